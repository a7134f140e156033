package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicExists asks Metadata (without auto-creation) whether topic exists,
// returning its partition count and ID.
func topicExists(t *testing.T, adm *kadm.Client, topic string) (bool, int, kadm.TopicID) {
	t.Helper()
	td, err := adm.ListTopics(testCtx(t, 15*time.Second), topic)
	if err != nil {
		t.Fatalf("metadata %q: %v", topic, err)
	}
	d, ok := td[topic]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return false, 0, kadm.TopicID{}
	}
	if d.Err != nil {
		t.Fatalf("metadata %q: %v", topic, d.Err)
	}
	return true, len(d.Partitions), d.ID
}

// TestCreateTopics: creation with configs, validate-only, duplicates,
// invalid names, partition counts and replication factors.
func TestCreateTopics(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	topic := topicName(t, "configs")

	configs := map[string]*string{
		"retention.ms":   kadm.StringPtr("3600000"),
		"cleanup.policy": kadm.StringPtr("delete"),
	}
	resp := createTopic(t, adm, topic, 3, configs)
	if resp.NumPartitions != 3 || resp.ReplicationFactor != 1 {
		t.Errorf("create response: %d partitions, RF %d; want 3, 1", resp.NumPartitions, resp.ReplicationFactor)
	}
	if resp.ID == (kadm.TopicID{}) {
		t.Errorf("create response has no topic ID")
	}
	if c, ok := resp.Configs["retention.ms"]; !ok || c.Value == nil || *c.Value != "3600000" {
		t.Errorf("create response configs: retention.ms = %+v, want 3600000", c)
	}
	ok, n, id := topicExists(t, adm, topic)
	if !ok || n != 3 {
		t.Fatalf("after create: exists=%v partitions=%d, want true, 3", ok, n)
	}
	if id != resp.ID {
		t.Errorf("metadata topic ID %v differs from the created ID %v", id, resp.ID)
	}

	// Validate-only creates nothing, but does validate.
	vtopic := topicName(t, "validate")
	vr, err := adm.ValidateCreateTopics(ctx, 2, 1, configs, vtopic)
	if err != nil || vr[vtopic].Err != nil {
		t.Fatalf("validate-only create: %v / %v", err, vr[vtopic].Err)
	}
	if ok, _, _ := topicExists(t, adm, vtopic); ok {
		t.Errorf("validate-only create made topic %q", vtopic)
	}
	vr, err = adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, vtopic)
	if err != nil || !errors.Is(vr[vtopic].Err, kerr.InvalidConfig) {
		t.Errorf("validate-only create with retention.ms=soon: %v / %v, want INVALID_CONFIG", err, vr[vtopic].Err)
	}

	// Duplicate.
	dr, err := adm.CreateTopics(ctx, 1, 1, nil, topic)
	if err != nil || !errors.Is(dr[topic].Err, kerr.TopicAlreadyExists) {
		t.Errorf("duplicate create: %v / %v, want TOPIC_ALREADY_EXISTS", err, dr[topic].Err)
	}

	// Invalid names.
	for _, name := range []string{"", ".", "..", "has space", "slash/topic", "star*", strings.Repeat("x", 250)} {
		r, err := adm.CreateTopics(ctx, 1, 1, nil, name)
		if err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		if !errors.Is(r[name].Err, kerr.InvalidTopicException) {
			t.Errorf("create %q: %v, want INVALID_TOPIC_EXCEPTION", name, r[name].Err)
		}
	}
	// The longest legal name (249) is fine.
	long := strings.Repeat("y", 249)
	if r, err := adm.CreateTopics(ctx, 1, 1, nil, long); err != nil || r[long].Err != nil {
		t.Errorf("create 249-char name: %v / %v", err, r[long].Err)
	}

	// Bad values.
	bad := []struct {
		name string
		p    int32
		rf   int16
		cfg  map[string]*string
		want error
	}{
		{"zero-partitions", 0, 1, nil, kerr.InvalidPartitions},
		{"rf-3-on-one-broker", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"bad-config-value", 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("shred")}, kerr.InvalidConfig},
	}
	for _, c := range bad {
		name := topicName(t, c.name)
		r, err := adm.CreateTopics(ctx, c.p, c.rf, c.cfg, name)
		if err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		if !errors.Is(r[name].Err, c.want) {
			t.Errorf("create %q (partitions %d, RF %d, configs %v): %v, want %v", name, c.p, c.rf, c.cfg, r[name].Err, c.want)
		}
		if ok, _, _ := topicExists(t, adm, name); ok {
			t.Errorf("failed create of %q left the topic behind", name)
		}
	}

	// Default partitions and replication factor (-1): num.partitions.
	dflt := topicName(t, "defaults")
	if r, err := adm.CreateTopics(ctx, -1, -1, nil, dflt); err != nil || r[dflt].Err != nil {
		t.Fatalf("create with defaults: %v / %v", err, r[dflt].Err)
	}
	if ok, n, _ := topicExists(t, adm, dflt); !ok || n != 1 {
		t.Errorf("create with -1 partitions: exists=%v partitions=%d, want num.partitions=1", ok, n)
	}
}

// TestDeleteTopics: by name, by topic ID (DeleteTopics v6), unknown name
// and unknown ID.
func TestDeleteTopics(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)

	byName := topicName(t, "by-name")
	byID := topicName(t, "by-id")
	keep := topicName(t, "keep")
	createTopic(t, adm, byName, 2, nil)
	created := createTopic(t, adm, byID, 2, nil)
	createTopic(t, adm, keep, 1, nil)
	cl := newClient(t, tb.Addr())
	for _, topic := range []string{byName, byID} {
		if pr := produceRawRecords(t, cl, topic, 0, "old-1", "old-2"); pr.ErrorCode != 0 {
			t.Fatalf("produce to %q: %v", topic, kerr.ErrorForCode(pr.ErrorCode))
		}
	}

	dr, err := adm.DeleteTopics(ctx, byName)
	if err != nil || dr[byName].Err != nil {
		t.Fatalf("delete %q: %v / %v", byName, err, dr[byName].Err)
	}
	waitFor(t, 10*time.Second, byName+" to disappear from metadata", func() error {
		if ok, _, _ := topicExists(t, adm, byName); ok {
			return fmt.Errorf("still listed")
		}
		return nil
	})
	// DeleteTopics removes the partitions' files, not just the metadata.
	for _, p := range []string{"0", "1"} {
		dir := filepath.Join(tb.props["log.dirs"], byName+"-"+p)
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("partition directory %s still there after delete (stat: %v)", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(tb.props["log.dirs"], keep+"-0")); err != nil {
		t.Fatalf("kept topic's directory: %v", err)
	}

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.SetVersion(6)
	req.TimeoutMillis = 15000
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.TopicID = created.ID
	req.Topics = append(req.Topics, dt)
	var unknownID [16]byte
	unknownID[0], unknownID[15] = 0x5a, 0xa5
	ut := kmsg.NewDeleteTopicsRequestTopic()
	ut.TopicID = unknownID
	req.Topics = append(req.Topics, ut)
	rc := dialRaw(t, tb.Addr())
	resp := rc.roundTrip(1, req).(*kmsg.DeleteTopicsResponse)
	if len(resp.Topics) != 2 {
		t.Fatalf("delete by ID: %d topic results, want 2", len(resp.Topics))
	}
	for _, rt := range resp.Topics {
		switch rt.TopicID {
		case created.ID:
			if rt.ErrorCode != 0 {
				t.Errorf("delete by ID: error %v", kerr.ErrorForCode(rt.ErrorCode))
			}
			if rt.Topic == nil || *rt.Topic != byID {
				t.Errorf("delete by ID: response names %v, want %q", rt.Topic, byID)
			}
		case unknownID:
			if rt.ErrorCode != kerr.UnknownTopicID.Code {
				t.Errorf("delete of unknown ID: error %v, want UNKNOWN_TOPIC_ID", kerr.ErrorForCode(rt.ErrorCode))
			}
		default:
			t.Errorf("delete by ID: result for unexpected topic ID %x", rt.TopicID)
		}
	}
	waitFor(t, 10*time.Second, byID+" to disappear from metadata", func() error {
		if ok, _, _ := topicExists(t, adm, byID); ok {
			return fmt.Errorf("still listed")
		}
		return nil
	})

	missing := topicName(t, "never-created")
	dr, err = adm.DeleteTopics(ctx, missing)
	if err != nil || !errors.Is(dr[missing].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("delete unknown %q: %v / %v, want UNKNOWN_TOPIC_OR_PARTITION", missing, err, dr[missing].Err)
	}

	if ok, _, _ := topicExists(t, adm, keep); !ok {
		t.Errorf("topic %q was not deleted but is gone", keep)
	}
	// Deleted topics take no writes, and their ID no fetches.
	if pr := produceRawRecords(t, cl, byName, 0, "late"); pr.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("produce to deleted %q: error %v, want UNKNOWN_TOPIC_OR_PARTITION", byName, kerr.ErrorForCode(pr.ErrorCode))
	}
	if p := fetchPartition(t, cl, fetchReq(byID, created.ID, 0, 0, 1<<20, 1<<20, 0, 0)); p.ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("fetch by deleted topic's ID: error %v, want UNKNOWN_TOPIC_ID", kerr.ErrorForCode(p.ErrorCode))
	}

	// A deleted name can be created again: new ID, no old data, and the
	// old ID still does not resolve (to the new topic or anything else).
	again := createTopic(t, adm, byID, 1, nil)
	if again.ID == created.ID {
		t.Errorf("re-created %q reuses the deleted topic's ID", byID)
	}
	if off, _, code := listOffset(t, cl, byID, 0, tsLatest); code != 0 || off != 0 {
		t.Errorf("re-created %q: log end offset %d (err %v), want 0: the deleted topic's records are back", byID, off, kerr.ErrorForCode(code))
	}
	if p := fetchPartition(t, cl, fetchReq(byID, again.ID, 0, 0, 1<<20, 1<<20, 0, 0)); p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Errorf("fetch re-created %q: error %v, %d record bytes; want none, 0", byID, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
	}
	if p := fetchPartition(t, cl, fetchReq(byID, created.ID, 0, 0, 1<<20, 1<<20, 0, 0)); p.ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("fetch by the old ID after re-create: error %v, want UNKNOWN_TOPIC_ID", kerr.ErrorForCode(p.ErrorCode))
	}
}

// TestCreatePartitions: growing works and is visible in metadata;
// shrinking or keeping the count is INVALID_PARTITIONS.
func TestCreatePartitions(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	topic := topicName(t, "")
	createTopic(t, adm, topic, 3, nil)

	r, err := adm.UpdatePartitions(ctx, 5, topic)
	if err != nil || r[topic].Err != nil {
		t.Fatalf("grow 3 -> 5: %v / %v", err, r[topic].Err)
	}
	waitFor(t, 10*time.Second, "5 partitions in metadata", func() error {
		if _, n, _ := topicExists(t, adm, topic); n != 5 {
			return fmt.Errorf("%d partitions", n)
		}
		return nil
	})
	r, err = adm.CreatePartitions(ctx, 1, topic)
	if err != nil || r[topic].Err != nil {
		t.Fatalf("add 1 (-> 6): %v / %v", err, r[topic].Err)
	}
	// Validate-only growth changes nothing.
	if r, err := adm.ValidateUpdatePartitions(ctx, 10, topic); err != nil || r[topic].Err != nil {
		t.Fatalf("validate grow -> 10: %v / %v", err, r[topic].Err)
	}
	for _, set := range []int{2, 6} {
		r, err = adm.UpdatePartitions(ctx, set, topic)
		if err != nil || !errors.Is(r[topic].Err, kerr.InvalidPartitions) {
			t.Errorf("set 6 -> %d: %v / %v, want INVALID_PARTITIONS", set, err, r[topic].Err)
		}
	}
	if _, n, _ := topicExists(t, adm, topic); n != 6 {
		t.Errorf("after shrink attempts and validate-only: %d partitions, want 6", n)
	}
	missing := topicName(t, "missing")
	r, err = adm.UpdatePartitions(ctx, 4, missing)
	if err != nil || !errors.Is(r[missing].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("grow unknown topic: %v / %v, want UNKNOWN_TOPIC_OR_PARTITION", err, r[missing].Err)
	}

	// The new partitions take writes and have offsets.
	cl := newClient(t, tb.Addr())
	pr := produceRawRecords(t, cl, topic, 5, "in the new partition")
	if pr.ErrorCode != 0 || pr.BaseOffset != 0 {
		t.Errorf("produce to new partition 5: error %v, base offset %d", kerr.ErrorForCode(pr.ErrorCode), pr.BaseOffset)
	}
}
