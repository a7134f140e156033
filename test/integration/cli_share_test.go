package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// `sluice group` on share groups (KIP-932): list shows the type and the
// members, describe the members and share-partition start offsets,
// reset-offsets moves the start offsets of an empty share group, delete
// deletes it.

type cliShareDescribed struct {
	Group           string `json:"group"`
	Type            string `json:"type"`
	State           string `json:"state"`
	GroupEpoch      int32  `json:"group_epoch"`
	AssignmentEpoch int32  `json:"assignment_epoch"`
	ProtocolType    string `json:"protocol_type"`
	Protocol        string `json:"protocol"`
	Members         []struct {
		MemberID    string `json:"member_id"`
		MemberEpoch *int32 `json:"member_epoch"`
		ClientID    string `json:"client_id"`
		Host        string `json:"host"`
		Assignments []struct {
			Topic      string  `json:"topic"`
			Partitions []int32 `json:"partitions"`
		} `json:"assignments"`
	} `json:"members"`
	Partitions []struct {
		Topic       string   `json:"topic"`
		Partition   int32    `json:"partition"`
		StartOffset *int64   `json:"start_offset"`
		Lag         *int64   `json:"lag"`
		Owners      []string `json:"owners"`
	} `json:"partitions"`
}

// startOffsets are the share-partition start offsets of d by partition
// (-1 for null).
func (d cliShareDescribed) startOffsets() []int64 {
	var out []int64
	for _, p := range d.Partitions {
		if p.StartOffset == nil {
			out = append(out, -1)
		} else {
			out = append(out, *p.StartOffset)
		}
	}
	return out
}

type cliShareListed struct {
	Group        string `json:"group"`
	Type         string `json:"type"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
}

type cliShareReset struct {
	Group   string `json:"group"`
	Share   bool   `json:"share"`
	DryRun  bool   `json:"dry_run"`
	Offsets []struct {
		Topic     string
		Partition int32
		Previous  *int64
		New       int64
	}
}

// shareConsumer is a franz-go share group consumer polling in the
// background and accepting what it gets.
type shareConsumer struct {
	cl     *kgo.Client
	got    atomic.Int64
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func startShareConsumer(t *testing.T, addr, group, clientID, topic string) *shareConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(clientID), kgo.ShareGroup(group),
		kgo.ConsumeTopics(topic), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatalf("share client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := &shareConsumer{cl: cl, cancel: cancel}
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			for _, e := range fs.Errors() {
				if !errors.Is(e.Err, context.Canceled) && !errors.Is(e.Err, kgo.ErrClientClosed) {
					t.Errorf("share poll: %v", e.Err)
				}
			}
			for _, r := range fs.Records() {
				r.Ack(kgo.AckAccept)
				sc.got.Add(1)
			}
			fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := cl.FlushAcks(fctx); err != nil && ctx.Err() == nil {
				t.Errorf("flush acks: %v", err)
			}
			fcancel()
		}
	}()
	t.Cleanup(sc.Close)
	return sc
}

// Close stops polling and closes the client, which leaves the group.
func (sc *shareConsumer) Close() {
	sc.once.Do(func() {
		sc.cancel()
		sc.wg.Wait()
		sc.cl.Close()
	})
}

func TestCLIShareGroup(t *testing.T) {
	tb := startGroupBroker(t)
	addr := tb.Addr()
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	topic, group, classic := topicName(t, ""), "g-cli-share", "g-cli-classic"
	createTopic(t, adm, topic, 2, nil)
	setShareConfigs(t, cl, group, "share.auto.offset.reset", "earliest")
	produceToPartitions(t, addr, topic, 5, 0, 1)

	m := startGroupMember(t, addr, classic, "cli-member", []string{topic})
	waitBalanced(t, adm, classic, topic, 2, m)

	sc := startShareConsumer(t, addr, group, "cli-share", topic)
	waitFor(t, 30*time.Second, "the share consumer got every record", func() error {
		if n := sc.got.Load(); n < 10 {
			return fmt.Errorf("%d/10 records", n)
		}
		return nil
	})

	// list: TYPE, and the share group's member counted.
	var listed []cliShareListed
	waitFor(t, 15*time.Second, "group list shows the share group with its member", func() error {
		listed = nil
		cliJSON(t, addr, &listed, "group", "list")
		want := []cliShareListed{{classic, "classic", "Stable", "consumer", 1}, {group, "share", "Stable", "share", 1}}
		if !slices.Equal(listed, want) {
			return fmt.Errorf("%+v, want %+v", listed, want)
		}
		return nil
	})
	rows := tableRows(cliOK(t, addr, "group", "list"))
	if !slices.Equal(rows[0], []string{"GROUP", "TYPE", "STATE", "PROTOCOL-TYPE", "MEMBERS"}) ||
		!hasRow(rows, group, "share", "Stable", "share", "1") || !hasRow(rows, classic, "classic", "Stable", "consumer", "1") {
		t.Errorf("group list table:\n%v", rows)
	}
	for typ, want := range map[string]string{"share": group, "SHARE": group, "classic": classic} {
		cliJSON(t, addr, &listed, "group", "list", "--type", typ)
		if len(listed) != 1 || listed[0].Group != want {
			t.Errorf("group list --type %s: %+v, want only %s", typ, listed, want)
		}
	}
	cliJSON(t, addr, &listed, "group", "list", "--type", "consumer")
	if len(listed) != 0 {
		t.Errorf("group list --type consumer: %+v, want none", listed)
	}
	cliJSON(t, addr, &listed, "group", "list", "--type", "share", "--state", "Empty")
	if len(listed) != 0 {
		t.Errorf("group list --type share --state Empty: %+v, want none", listed)
	}
	cliFails(t, addr, "unknown --type", "group", "list", "--type", "streamz")

	// describe: members, assignments, start offsets and lag.
	var d cliShareDescribed
	waitFor(t, 15*time.Second, "describe shows the acknowledged start offsets", func() error {
		d = cliShareDescribed{}
		cliJSON(t, addr, &d, "group", "describe", group)
		if got := d.startOffsets(); !slices.Equal(got, []int64{5, 5}) {
			return fmt.Errorf("start offsets %v, want [5 5]: %+v", got, d)
		}
		return nil
	})
	if d.Type != "share" || d.State != "Stable" || d.ProtocolType != "share" || d.Protocol != "simple" ||
		d.GroupEpoch < 1 || d.AssignmentEpoch != d.GroupEpoch || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	memberID := d.Members[0].MemberID // franz-go does not expose a share member's id
	if mem := d.Members[0]; mem.MemberID == "" || mem.ClientID != "cli-share" || mem.Host == "" ||
		mem.MemberEpoch == nil || *mem.MemberEpoch != d.AssignmentEpoch ||
		len(mem.Assignments) != 1 || mem.Assignments[0].Topic != topic || !slices.Equal(mem.Assignments[0].Partitions, []int32{0, 1}) {
		t.Errorf("describe member: %+v, want cli-share assigned %s 0,1", mem, topic)
	}
	for i, p := range d.Partitions {
		if p.Topic != topic || p.Partition != int32(i) || !ptrIs(p.Lag, 0) || !slices.Equal(p.Owners, []string{memberID}) {
			t.Errorf("describe partition %d: %+v, want start 5 lag 0 owner %s", i, p, memberID)
		}
	}
	rows = tableRows(cliOK(t, addr, "group", "describe", group))
	if !slices.Equal(rows[0], []string{"GROUP", "TYPE", "STATE", "ASSIGNOR", "GROUP-EPOCH", "ASSIGNMENT-EPOCH", "MEMBERS"}) ||
		!hasRow(rows, "MEMBER-ID", "CLIENT-ID", "HOST", "EPOCH", "ASSIGNMENTS") ||
		!hasRow(rows, "TOPIC", "PARTITION", "START-OFFSET", "LAG", "OWNERS") ||
		!hasRow(rows, topic, "1", "5", "0", memberID) {
		t.Errorf("describe table:\n%v", rows)
	}

	// With a member, reset-offsets and delete are refused.
	cliFails(t, addr, "NON_EMPTY_GROUP", "group", "reset-offsets", group, "--topic", topic, "--to-earliest")
	cliFails(t, addr, "NON_EMPTY_GROUP", "group", "delete", group)

	sc.Close()
	produceToPartitions(t, addr, topic, 3, 0)
	waitFor(t, 15*time.Second, "the share group is empty once its consumer left", func() error {
		d = cliShareDescribed{}
		cliJSON(t, addr, &d, "group", "describe", group)
		if d.State != "Empty" || len(d.Members) != 0 {
			return fmt.Errorf("state %s, %d members", d.State, len(d.Members))
		}
		return nil
	})
	if len(d.Partitions) != 2 || !ptrIs(d.Partitions[0].StartOffset, 5) || !ptrIs(d.Partitions[0].Lag, 3) || len(d.Partitions[0].Owners) != 0 {
		t.Errorf("describe after the consumer left and 3 more records: %+v, want partition 0 start 5 lag 3 no owner", d.Partitions)
	}
	cliJSON(t, addr, &listed, "group", "list", "--type", "share")
	if len(listed) != 1 || listed[0].State != "Empty" || listed[0].Members != 0 {
		t.Errorf("group list --type share after the consumer left: %+v", listed)
	}

	starts := func() []int64 {
		t.Helper()
		var d cliShareDescribed
		cliJSON(t, addr, &d, "group", "describe", group)
		return d.startOffsets()
	}
	reset := func(args ...string) cliShareReset {
		t.Helper()
		var r cliShareReset
		cliJSON(t, addr, &r, append([]string{"group", "reset-offsets", group, "--topic", topic}, args...)...)
		return r
	}
	r := reset("--to-earliest", "--dry-run")
	if !r.Share || !r.DryRun || len(r.Offsets) != 2 || !ptrIs(r.Offsets[0].Previous, 5) || r.Offsets[0].New != 0 || r.Offsets[1].New != 0 {
		t.Errorf("dry run: %+v", r)
	}
	if got := starts(); !slices.Equal(got, []int64{5, 5}) {
		t.Errorf("after a dry run start offsets %v, want unchanged [5 5]", got)
	}
	if r = reset("--to-offset", "2", "--partitions", "1"); !r.Share || len(r.Offsets) != 1 || r.Offsets[0].Partition != 1 || r.Offsets[0].New != 2 {
		t.Errorf("--to-offset 2 --partitions 1: %+v", r)
	}
	if got := starts(); !slices.Equal(got, []int64{5, 2}) {
		t.Errorf("after --to-offset 2 on partition 1: start offsets %v, want [5 2]", got)
	}
	reset("--to-latest")
	if got := starts(); !slices.Equal(got, []int64{8, 5}) {
		t.Errorf("after --to-latest: start offsets %v, want the ends [8 5]", got)
	}
	rows = tableRows(cliOK(t, addr, "group", "reset-offsets", group, "--topic", topic, "--to-earliest"))
	if !slices.Equal(rows[0], []string{"GROUP", "TOPIC", "PARTITION", "PREVIOUS-START-OFFSET", "NEW-START-OFFSET"}) || !hasRow(rows, group, topic, "0", "8", "0") {
		t.Errorf("reset table:\n%v", rows)
	}
	if got := starts(); !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("after --to-earliest: start offsets %v, want [0 0]", got)
	}
	// The reset is what a new consumer of the group starts from: every record again.
	sc = startShareConsumer(t, addr, group, "cli-share-2", topic)
	waitFor(t, 30*time.Second, "a new share consumer got every record after --to-earliest", func() error {
		if n := sc.got.Load(); n < 13 {
			return fmt.Errorf("%d/13 records", n)
		}
		return nil
	})
	sc.Close()
	waitFor(t, 15*time.Second, "the share group is empty again", func() error {
		cliJSON(t, addr, &listed, "group", "list", "--type", "share")
		if len(listed) != 1 || listed[0].Members != 0 {
			return fmt.Errorf("%+v", listed)
		}
		return nil
	})

	// delete: the share group goes, the classic one stays.
	out := cliOK(t, addr, "group", "delete", group)
	if !strings.Contains(out, "Deleted group "+group) {
		t.Errorf("delete: %q", out)
	}
	cliFails(t, addr, "GROUP_ID_NOT_FOUND", "group", "delete", group)
	cliFails(t, addr, "does not exist", "group", "describe", group)
	cliJSON(t, addr, &listed, "group", "list")
	if len(listed) != 1 || listed[0].Group != classic {
		t.Errorf("group list after delete: %+v, want only %s", listed, classic)
	}
	m.Close()
}
