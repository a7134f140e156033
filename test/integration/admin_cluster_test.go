package integration

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	smeta "github.com/sluice-io/sluice/internal/metadata"
)

// wantErr checks that err is the Kafka error k (nil: no error).
func wantErr(t *testing.T, what string, err error, k *kerr.Error) {
	t.Helper()
	if k == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, k) {
		t.Errorf("%s: got %v, want %s", what, err, k.Message)
	}
}

// leaderEpochs returns each partition's leader epoch from Metadata.
func leaderEpochs(t *testing.T, adm *kadm.Client, topic string) map[int32]int32 {
	t.Helper()
	md, err := adm.Metadata(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	out := map[int32]int32{}
	for p, pd := range md.Topics[topic].Partitions {
		if pd.Leader != 1 {
			t.Errorf("%s-%d leader %d", topic, p, pd.Leader)
		}
		out[p] = pd.LeaderEpoch
	}
	return out
}

func TestAdminElectLeaders(t *testing.T) {
	tb := startBroker(t)
	cl := newClient(t, tb.Addr())
	adm := kadm.NewClient(cl)
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	epochs := leaderEpochs(t, adm, topic)
	ctx := testCtx(t, 30*time.Second)

	// One broker: the leader is always the preferred replica, so Kafka
	// answers ELECTION_NOT_NEEDED per partition, and no top-level error.
	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		res, err := adm.ElectLeaders(ctx, how, kadm.TopicsSet{topic: {0: {}, 1: {}, 7: {}}, "no-such-topic": {0: {}}})
		if err != nil {
			t.Fatalf("elect %d: %v", how, err)
		}
		if len(res[topic]) != 3 || len(res["no-such-topic"]) != 1 {
			t.Fatalf("elect %d: results %+v", how, res)
		}
		wantErr(t, "partition 0", res[topic][0].Err, kerr.ElectionNotNeeded)
		wantErr(t, "partition 1", res[topic][1].Err, kerr.ElectionNotNeeded)
		wantErr(t, "partition 7", res[topic][7].Err, kerr.UnknownTopicOrPartition)
		wantErr(t, "unknown topic", res["no-such-topic"][0].Err, kerr.UnknownTopicOrPartition)
		if m := res[topic][0].ErrMessage; m != "Leader election not needed for topic partition." {
			t.Errorf("message %q", m)
		}
	}

	// Null topics means all partitions; those needing no election are
	// left out, so the answer is empty.
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Errorf("elect all: %+v", res)
	}

	// An unknown election type fails the request, on every partition too.
	req := kmsg.NewPtrElectLeadersRequest()
	req.ElectionType = 7
	rt := kmsg.NewElectLeadersRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 ||
		resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("unknown election type: %+v", resp)
	}

	// No election happened: the leader epochs did not move.
	if got := leaderEpochs(t, adm, topic); got[0] != epochs[0] || got[1] != epochs[1] {
		t.Errorf("leader epochs %v, were %v", got, epochs)
	}
}

func TestAdminPartitionReassignments(t *testing.T) {
	tb := startBroker(t)
	cl := newClient(t, tb.Addr())
	adm := kadm.NewClient(cl)
	topic := topicName(t, "")
	createTopic(t, adm, topic, 3, nil)
	epochs := leaderEpochs(t, adm, topic)
	ctx := testCtx(t, 30*time.Second)

	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, []int32{1})    // the current replicas: done at once
	req.Assign(topic, 1, []int32{2})    // no broker 2
	req.Assign(topic, 2, []int32{1, 1}) // a broker twice
	req.Assign(topic, 9, []int32{1})
	req.Assign("no-such-topic", 0, []int32{1})
	res, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "same replicas", res[topic][0].Err, nil)
	wantErr(t, "unregistered broker", res[topic][1].Err, kerr.InvalidReplicaAssignment)
	wantErr(t, "duplicate broker", res[topic][2].Err, kerr.InvalidReplicaAssignment)
	wantErr(t, "unknown partition", res[topic][9].Err, kerr.UnknownTopicOrPartition)
	wantErr(t, "unknown topic", res["no-such-topic"][0].Err, kerr.UnknownTopicOrPartition)
	if m := res[topic][1].ErrMessage; m != "The manual partition assignment includes broker 2, but no such broker is registered." {
		t.Errorf("message %q", m)
	}

	// Null replicas cancel; nothing is in progress. An empty list is invalid.
	raw := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	cancel := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	cancel.Partition, cancel.Replicas = 0, nil
	empty := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	empty.Partition, empty.Replicas = 1, []int32{}
	rt.Partitions = append(rt.Partitions, cancel, empty)
	raw.Topics = append(raw.Topics, rt)
	rawResp, err := raw.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if rawResp.ErrorCode != 0 || len(rawResp.Topics) != 1 || len(rawResp.Topics[0].Partitions) != 2 ||
		rawResp.Topics[0].Partitions[0].ErrorCode != kerr.NoReassignmentInProgress.Code ||
		rawResp.Topics[0].Partitions[1].ErrorCode != kerr.InvalidReplicaAssignment.Code {
		t.Errorf("cancel/empty: %+v", rawResp)
	}

	// Nothing is ongoing, for named partitions or all of them.
	lr, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}}, "no-such-topic": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr) != 0 {
		t.Errorf("list: %+v", lr)
	}
	all, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if all.ErrorCode != 0 || len(all.Topics) != 0 {
		t.Errorf("list all: %+v", all)
	}

	// Nothing changed: no PartitionChangeRecord was written.
	if got := leaderEpochs(t, adm, topic); len(got) != 3 || got[0] != epochs[0] {
		t.Errorf("leader epochs %v, were %v", got, epochs)
	}
}

// alterScram sends AlterUserScramCredentials as is (kadm validates some
// inputs client-side) and returns each user's error code.
func alterScram(t *testing.T, cl *kgo.Client, dels []kmsg.AlterUserSCRAMCredentialsRequestDeletion, ups []kmsg.AlterUserSCRAMCredentialsRequestUpsertion) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Deletions, req.Upsertions = dels, ups
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int16{}
	for _, r := range resp.Results {
		if _, dup := out[r.User]; dup {
			t.Errorf("user %q answered twice", r.User)
		}
		out[r.User] = r.ErrorCode
	}
	return out
}

func upsertion(name string, mech int8, iters int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
	u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	u.Name, u.Mechanism, u.Iterations = name, mech, iters
	u.Salt, u.SaltedPassword = []byte("salt"), []byte("salted")
	return u
}

func deletion(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
	d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	d.Name, d.Mechanism = name, mech
	return d
}

func TestAdminScramCredentials(t *testing.T) {
	tb := startBroker(t)
	cl := newClient(t, tb.Addr())
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, 60*time.Second)

	bobSalt, bobSalted := []byte("bob-salt"), bytes.Repeat([]byte{7}, 64)
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "pencil"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 16384, Salt: bobSalt, SaltedPassword: bobSalted},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(altered) != 2 || altered["alice"].Err != nil || altered["bob"].Err != nil {
		t.Fatalf("upsert: %+v", altered)
	}
	// A second mechanism for alice.
	if altered, err = adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "pencil"},
	}); err != nil || altered["alice"].Err != nil {
		t.Fatalf("upsert alice sha-512: %+v %v", altered, err)
	}

	describeAll := func() kadm.DescribedUserSCRAMs {
		t.Helper()
		d, err := adm.DescribeUserSCRAMs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	checkBoth := func(when string) {
		t.Helper()
		d := describeAll()
		a, b := d["alice"], d["bob"]
		if len(d) != 2 || a.Err != nil || b.Err != nil ||
			len(a.CredInfos) != 2 || a.CredInfos[0] != (kadm.CredInfo{Mechanism: kadm.ScramSha256, Iterations: 4096}) ||
			a.CredInfos[1] != (kadm.CredInfo{Mechanism: kadm.ScramSha512, Iterations: 8192}) ||
			len(b.CredInfos) != 1 || b.CredInfos[0] != (kadm.CredInfo{Mechanism: kadm.ScramSha512, Iterations: 16384}) {
			t.Errorf("%s: describe all %+v", when, d)
		}
	}
	checkBoth("after upsert")

	// Describe named users: unknown and duplicate users.
	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"bob", "ghost", "alice", "alice"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		dreq.Users = append(dreq.Users, u)
	}
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	dcodes := map[string]int16{}
	for _, r := range dresp.Results {
		dcodes[r.User] = r.ErrorCode
	}
	if want := map[string]int16{"bob": 0, "ghost": kerr.ResourceNotFound.Code, "alice": kerr.DuplicateResource.Code}; dresp.ErrorCode != 0 || !maps.Equal(dcodes, want) {
		t.Errorf("describe named: %v (top %d), want %v", dcodes, dresp.ErrorCode, want)
	}

	// Kafka's validation, one user each.
	got := alterScram(t, cl,
		[]kmsg.AlterUserSCRAMCredentialsRequestDeletion{
			deletion("ghost", 1),  // no such credential
			deletion("bob", 1),    // bob has only SHA-512
			deletion("nomech", 0), // unknown mechanism
			deletion("alice", 1),  // alice is upserted too
		},
		[]kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
			upsertion("few", 1, 4095),
			upsertion("many", 2, 16385),
			upsertion("badmech", 3, 4096),
			upsertion("", 1, 4096),
			upsertion("alice", 1, 5000),
			upsertion("dup", 1, 4096),
			upsertion("dup", 2, 4096),
		})
	uc, nf := kerr.UnacceptableCredential.Code, kerr.ResourceNotFound.Code
	want := map[string]int16{"ghost": nf, "bob": nf, "nomech": kerr.UnsupportedSaslMechanism.Code,
		"alice": kerr.DuplicateResource.Code, "few": uc, "many": uc, "badmech": kerr.UnsupportedSaslMechanism.Code,
		"": uc, "dup": kerr.DuplicateResource.Code}
	if !maps.Equal(got, want) {
		t.Errorf("validation codes %v, want %v", got, want)
	}
	checkBoth("after rejected changes")

	// Credentials survive a restart, and the stored keys are those of
	// RFC 5802 for the salted password sent.
	tb.Close()
	store, err := smeta.Open(smeta.Dir(tb.props["log.dirs"]), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := store.Image().ScramCredential("bob", smeta.ScramSHA512)
	stored, server, _ := controller.ScramKeys(smeta.ScramSHA512, bobSalted)
	if !ok || !bytes.Equal(c.Salt, bobSalt) || !bytes.Equal(c.StoredKey, stored) || !bytes.Equal(c.ServerKey, server) || c.Iterations != 16384 {
		t.Errorf("bob's stored credential %+v", c)
	}
	store.Close()
	tb.start()
	waitFor(t, 15*time.Second, "describe after restart", func() error {
		_, err := adm.DescribeUserSCRAMs(ctx)
		return err
	})
	checkBoth("after restart")

	// Delete: bob's only credential, then restart again.
	altered, err = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || altered["bob"].Err != nil {
		t.Fatalf("delete bob: %+v %v", altered, err)
	}
	tb.Restart()
	var d kadm.DescribedUserSCRAMs
	waitFor(t, 15*time.Second, "describe after second restart", func() error {
		var err error
		d, err = adm.DescribeUserSCRAMs(ctx)
		return err
	})
	if _, ok := d["bob"]; ok || len(d) != 1 || len(d["alice"].CredInfos) != 2 {
		t.Errorf("after delete and restart: %+v", d)
	}
	named, err := adm.DescribeUserSCRAMs(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "describe deleted bob", named["bob"].Err, kerr.ResourceNotFound)
}
