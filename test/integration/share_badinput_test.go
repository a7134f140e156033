package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Malformed but decodable share-group requests get Kafka's error codes,
// never a crash or a hang, and leave the share-partition untouched: a
// member can still consume everything afterwards.
func TestShareBadInput(t *testing.T) {
	const group = "bad-share"
	_, cl, topic := startShareTopic(t, 1, group, 5)
	tid := topicID(t, cl, topic)

	fetch := func(name string, req *kmsg.ShareFetchRequest) *kmsg.ShareFetchResponse {
		t.Helper()
		resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return resp
	}
	ack := func(name string, req *kmsg.ShareAcknowledgeRequest) *kmsg.ShareAcknowledgeResponse {
		t.Helper()
		resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return resp
	}
	wantTop := func(name string, got, want int16) {
		t.Helper()
		if got != want {
			t.Errorf("%s: error %v, want %v", name, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}

	// Top-level refusals.
	noGroup := shareFetchReq(group, "m", 0, tid, 0, nil)
	noGroup.GroupID = nil
	wantTop("null group id", fetch("null group id", noGroup).ErrorCode, kerr.InvalidRequest.Code)
	wantTop("member id over 36 chars", fetch("long member", shareFetchReq(group, strings.Repeat("m", 37), 0, tid, 0, nil)).ErrorCode, kerr.InvalidRequest.Code)
	wantTop("acks with epoch 0", fetch("acks epoch 0", shareFetchReq(group, "m", 0, tid, 0, []shareAck{{0, 1, 1}})).ErrorCode, kerr.InvalidRequest.Code)
	wantTop("epoch without a session", fetch("no session", shareFetchReq(group, "m", 3, tid, 0, nil)).ErrorCode, kerr.ShareSessionNotFound.Code)
	wantTop("close without a session", ack("close no session", shareAckReq(group, "m", -1, tid, nil)).ErrorCode, kerr.ShareSessionNotFound.Code)

	// Per-partition refusals: an unknown topic ID, a partition that does
	// not exist. Odd limits (negative MaxRecords and MaxBytes) are answered.
	unknown := fetch("unknown topic id", shareFetchReq(group, "u", 0, [16]byte{0xde, 0xad}, 0, nil))
	if len(unknown.Topics) != 1 || unknown.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("unknown topic id: %+v", unknown.Topics)
	}
	badPart := shareFetchReq(group, "p", 0, tid, 0, nil)
	badPart.Topics[0].Partitions[0].Partition = 99
	if r := fetch("partition 99", badPart); len(r.Topics) != 1 || r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("partition 99: %+v", r.Topics)
	}
	odd := shareFetchReq(group, "odd", 0, tid, 0, nil)
	odd.MaxRecords, odd.MaxBytes, odd.BatchSize = -5, -1, -3
	if r := fetch("negative limits", odd); r.ErrorCode != 0 {
		t.Errorf("negative limits: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// Whatever that member acquired goes back when its session closes.
	wantTop("close", ack("close odd", shareAckReq(group, "odd", -1, tid, nil)).ErrorCode, 0)

	// A member holds records 0-4; malformed acknowledgements change nothing.
	rp := shareFetchOK(t, cl, shareFetchReq(group, "holder", 0, tid, 1000, nil))
	if v := acquiredValues(t, rp); len(v) != 5 {
		t.Fatalf("holder acquired %v", v)
	}
	epoch := int32(1)
	partErr := func(name string, batches []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch, want int16) {
		t.Helper()
		req := shareAckReq(group, "holder", epoch, tid, nil)
		req.Topics[0].Partitions[0].AcknowledgementBatches = batches
		resp := ack(name, req)
		epoch++
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != want {
			t.Errorf("%s: %+v, want partition error %v", name, resp, kerr.ErrorForCode(want))
		}
	}
	batch := func(first, last int64, types ...int8) kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch {
		b := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = first, last, types
		return b
	}
	partErr("last before first", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(3, 1, 1)}, kerr.InvalidRequest.Code)
	partErr("no types", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(0, 1)}, kerr.InvalidRequest.Code)
	partErr("types of the wrong length", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(0, 3, 1, 1)}, kerr.InvalidRequest.Code)
	partErr("unknown type", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(0, 0, 9)}, kerr.InvalidRequest.Code)
	partErr("overlapping batches", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(0, 2, 1), batch(1, 3, 1)}, kerr.InvalidRequest.Code)
	partErr("negative offset", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(-1, 0, 1)}, kerr.InvalidRequest.Code)
	partErr("offsets never delivered", []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{batch(1000, 1<<62, 1)}, kerr.InvalidRecordState.Code)

	// Heartbeats with bad fields.
	hb := func(name string, mod func(*kmsg.ShareGroupHeartbeatRequest), want int16) {
		t.Helper()
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.MemberEpoch = group, "hb-member", 0
		req.SubscribedTopicNames = []string{topic}
		mod(req)
		resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantTop(name, resp.ErrorCode, want)
	}
	hb("empty group id", func(r *kmsg.ShareGroupHeartbeatRequest) { r.GroupID = "" }, kerr.InvalidRequest.Code)
	hb("empty member id", func(r *kmsg.ShareGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest.Code)
	hb("epoch below -1", func(r *kmsg.ShareGroupHeartbeatRequest) { r.MemberEpoch = -7 }, kerr.InvalidRequest.Code)
	hb("join without topics", func(r *kmsg.ShareGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest.Code)
	hb("unknown group", func(r *kmsg.ShareGroupHeartbeatRequest) { r.GroupID, r.MemberEpoch = "no-such-share-group", 4 }, kerr.GroupIDNotFound.Code)
	hb("a real join", func(*kmsg.ShareGroupHeartbeatRequest) {}, 0)
	hb("unknown member", func(r *kmsg.ShareGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "ghost", 4 }, kerr.UnknownMemberID.Code)
	hb("member epoch from the future", func(r *kmsg.ShareGroupHeartbeatRequest) { r.MemberEpoch = 99 }, kerr.FencedMemberEpoch.Code)
	hb("leave", func(r *kmsg.ShareGroupHeartbeatRequest) { r.MemberEpoch = -1 }, 0)

	// The holder's records are intact: it can still accept all five, and
	// the broker serves as before.
	req := shareAckReq(group, "holder", epoch, tid, []shareAck{{0, 4, 1}})
	if resp := ack("accept all", req); resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("accept after bad acks: %+v", resp)
	}
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t, 5*time.Second), cl); err != nil {
		t.Fatalf("broker after bad input: %v", err)
	}
}
