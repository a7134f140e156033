package integration

// The consumer-group scenarios of the seed notes, with franz-go's
// consumer group over TCP: partitions are the unit of parallelism, each
// record goes to one member of a group, every group gets every record,
// one key's records stay in order, and commits survive restarts.

import (
	"fmt"
	"strings"
	"testing"
)

// TestGroupPartitionsShared: one consumer owns both partitions; a second
// takes one of them; a third owns nothing. Each record produced then goes
// to exactly one member, the owner of its partition.
func TestGroupPartitionsShared(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-shared"
	createTopic(t, adm, topic, 2, nil)
	topics := []string{topic}

	c1 := startGroupMember(t, tb.Addr(), group, "c1", topics)
	if got := waitBalanced(t, adm, group, topic, 2, c1); len(got["c1"]) != 2 {
		t.Fatalf("one member: assignment %v, want both partitions on c1", got)
	}
	c2 := startGroupMember(t, tb.Addr(), group, "c2", topics)
	got := waitBalanced(t, adm, group, topic, 2, c1, c2)
	if len(got["c1"]) != 1 || len(got["c2"]) != 1 {
		t.Fatalf("two members: assignment %v, want one partition each", got)
	}
	c3 := startGroupMember(t, tb.Addr(), group, "c3", topics)
	got = waitBalanced(t, adm, group, topic, 2, c1, c2, c3)
	idle := 0
	for name, ps := range got {
		switch len(ps) {
		case 0:
			idle++
		case 1:
		default:
			t.Errorf("three members: %s owns %v", name, ps)
		}
	}
	if idle != 1 {
		t.Fatalf("three members: assignment %v, want exactly one idle member", got)
	}

	values := seqValues("rec", 200)
	produceValues(t, newClient(t, tb.Addr()), topic, values, func(i int) string { return fmt.Sprintf("key-%d", i%37) })
	members := []*groupMember{c1, c2, c3}
	waitRecords(t, values, members...)
	for _, m := range members {
		owned := map[int32]bool{}
		for _, p := range got[m.name] {
			owned[p] = true
		}
		for _, r := range m.Records() {
			if !owned[r.Partition] {
				t.Errorf("%s got %q from partition %d, but owns %v", m.name, r.Value, r.Partition, got[m.name])
			}
		}
		if len(got[m.name]) == 0 && len(m.Records()) > 0 {
			t.Errorf("idle member %s consumed %d records", m.name, len(m.Records()))
		}
	}
}

// TestGroupEveryGroupGetsEveryRecord: two groups on one topic (one with a
// single member, one with two) each receive every record once.
func TestGroupEveryGroupGetsEveryRecord(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	topics := []string{topic}

	orders := startGroupMember(t, tb.Addr(), "orders", "orders-1", topics)
	notify1 := startGroupMember(t, tb.Addr(), "notifications", "notify-1", topics)
	notify2 := startGroupMember(t, tb.Addr(), "notifications", "notify-2", topics)
	waitBalanced(t, adm, "orders", topic, 2, orders)
	waitBalanced(t, adm, "notifications", topic, 2, notify1, notify2)

	values := seqValues("payment", 100)
	produceValues(t, newClient(t, tb.Addr()), topic, values, func(i int) string { return fmt.Sprintf("order-%d", i) })
	waitRecords(t, values, orders)
	waitRecords(t, values, notify1, notify2)
}

// TestGroupKeyOrder: the events of one order (one key) reach one member,
// in the order they were produced.
func TestGroupKeyOrder(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-order"
	createTopic(t, adm, topic, 3, nil)
	topics := []string{topic}
	a := startGroupMember(t, tb.Addr(), group, "a", topics)
	b := startGroupMember(t, tb.Addr(), group, "b", topics)
	waitBalanced(t, adm, group, topic, 3, a, b)

	events := []string{"ORDER_RECEIVED", "ORDER_CREATED", "ORDER_CANCELED"}
	const orders = 40
	var values []string
	for _, ev := range events {
		for o := range orders {
			values = append(values, fmt.Sprintf("order-%d/%s", o, ev))
		}
	}
	produceValues(t, newClient(t, tb.Addr()), topic, values, func(i int) string { return strings.Split(values[i], "/")[0] })
	waitRecords(t, values, a, b)

	owner := map[string]string{}
	for _, m := range []*groupMember{a, b} {
		seen := map[string][]string{}
		for _, r := range m.Records() {
			key, ev, _ := strings.Cut(string(r.Value), "/")
			if string(r.Key) != key {
				t.Fatalf("record %q has key %q", r.Value, r.Key)
			}
			seen[key] = append(seen[key], ev)
		}
		for key, evs := range seen {
			if o, ok := owner[key]; ok {
				t.Errorf("%s reached both %s and %s", key, o, m.name)
			}
			owner[key] = m.name
			if strings.Join(evs, ",") != strings.Join(events, ",") {
				t.Errorf("%s: %s got %v, want %v", key, m.name, evs, events)
			}
		}
	}
	if len(owner) != orders {
		t.Errorf("%d orders consumed, want %d", len(owner), orders)
	}
}

// TestGroupResumeAfterConsumerRestart: a new consumer in the group starts
// after the last commit of the previous one and re-reads nothing.
func TestGroupResumeAfterConsumerRestart(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-resume"
	createTopic(t, adm, topic, 2, nil)
	prod := newClient(t, tb.Addr())
	key := func(i int) string { return fmt.Sprintf("k%d", i) }

	first := seqValues("first", 50)
	produceValues(t, prod, topic, first, key)
	c1 := startGroupMember(t, tb.Addr(), group, "c1", []string{topic}, committingEachPoll())
	waitRecords(t, first, c1)
	waitCommittedAtEnd(t, adm, group, topic)
	c1.Close()

	second := seqValues("second", 30)
	produceValues(t, prod, topic, second, key)
	c2 := startGroupMember(t, tb.Addr(), group, "c2", []string{topic})
	waitRecords(t, second, c2) // fails on any record of the first batch
	assertNoneOf(t, c2, first)
}

// assertNoneOf fails if m polled any of values.
func assertNoneOf(t *testing.T, m *groupMember, values []string) {
	t.Helper()
	bad := map[string]bool{}
	for _, v := range values {
		bad[v] = true
	}
	for _, r := range m.Records() {
		if bad[string(r.Value)] {
			t.Errorf("%s re-read committed record %q (%s/%d@%d)", m.name, r.Value, r.Topic, r.Partition, r.Offset)
		}
	}
}
