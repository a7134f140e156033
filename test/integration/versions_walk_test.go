package integration

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The versions a broker advertises are a promise: a client picks the
// highest one both sides know and builds its request for it. This file
// walks every (key, version) the broker lists in ApiVersions and sends a
// well-formed request at that version, each on a raw connection so the
// version is exactly the one under test, and checks that the answer is a
// well-formed response of that version with no UNSUPPORTED_VERSION and no
// INVALID_REQUEST anywhere in it, and that the connection stays open.
//
// kmsg builds each key's request with its defaults; walkFill gives the
// fields without which the request would be invalid (or would mean
// something else, as acks=0 means "no answer") something minimal and
// harmless: names of topics and groups the walk creates or that do not
// exist, ids of no broker, a cluster id that is not this cluster's, so
// nothing changes the cluster beyond the walk's own topics and groups.
// Errors the request earns for those values (UNKNOWN_MEMBER_ID,
// GROUP_ID_NOT_FOUND, ...) are fine; walkAllowed lists the few codes that
// would otherwise fail the walk, each with Kafka's reason.

// walkEnv is what fillers may refer to.
type walkEnv struct {
	topic   string   // an existing topic with one partition and records
	topicID [16]byte // its id
	cluster string   // this cluster's id
}

// walkFill makes req (at its version) minimal and valid. Keys not listed
// are valid as kmsg builds them (empty lists mean "nothing" or "all"). A
// newly advertised key or version whose empty request is invalid needs a
// case here.
func walkFill(req kmsg.Request, w *walkEnv) {
	v := req.GetVersion()
	uniq := func(what string) string { return fmt.Sprintf("walk-%s-v%d", what, v) }
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		r.Acks = -1 // acks=0 is answered with nothing
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = w.topic, w.topicID
		rp := kmsg.NewProduceRequestTopicPartition()
		switch {
		case v <= 1:
			rp.Records = legacySet(0, legacyMsg{value: []byte("walk")})
		case v == 2:
			rp.Records = legacySet(1, legacyMsg{ts: time.Now().UnixMilli(), value: []byte("walk")})
		default:
			rp.Records = buildBatch(time.Now().UnixMilli(), []rawRecord{{offsetDelta: 0, value: []byte("walk")}})
		}
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	case *kmsg.FetchRequest:
		r.ReplicaID, r.MaxBytes, r.SessionEpoch = -1, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = w.topic, w.topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	case *kmsg.ListOffsetsRequest:
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = w.topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = -1, -1, 1
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	case *kmsg.MetadataRequest:
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(w.topic)
		r.Topics = append(r.Topics, mt)
	case *kmsg.OffsetCommitRequest:
		// A simple (groupless) commit: generation -1, no member.
		r.Group, r.Generation = uniq("commit"), -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = w.topic, w.topicID
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 0
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	case *kmsg.OffsetFetchRequest:
		r.Group = uniq("commit")
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = r.Group
		r.Groups = append(r.Groups, g)
	case *kmsg.FindCoordinatorRequest:
		r.CoordinatorKey = uniq("group")
		r.CoordinatorKeys = []string{r.CoordinatorKey}
	case *kmsg.JoinGroupRequest:
		r.Group, r.ProtocolType = uniq("join"), "consumer"
		r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		r.Protocols = append(r.Protocols, p)
	case *kmsg.HeartbeatRequest:
		r.Group, r.MemberID, r.Generation = uniq("join"), "no-such-member", 1
	case *kmsg.LeaveGroupRequest:
		r.Group, r.MemberID = uniq("join"), "no-such-member"
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = "no-such-member"
		r.Members = append(r.Members, m)
	case *kmsg.SyncGroupRequest:
		r.Group, r.MemberID, r.Generation = uniq("join"), "no-such-member", 1
		r.ProtocolType, r.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	case *kmsg.DescribeGroupsRequest:
		r.Groups = []string{uniq("join")}
	case *kmsg.SASLHandshakeRequest:
		r.Mechanism = "PLAIN"
	case *kmsg.ApiVersionsRequest:
		r.ClientSoftwareName, r.ClientSoftwareVersion = "sluice-walk", "1.0"
	case *kmsg.CreateTopicsRequest:
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = uniq("created"), 1, 1
		r.Topics = append(r.Topics, rt)
		r.TimeoutMillis = 15000
	case *kmsg.DeleteTopicsRequest:
		r.TopicNames = []string{uniq("absent")}
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr(uniq("absent"))
		r.Topics = append(r.Topics, dt)
		r.TimeoutMillis = 15000
	case *kmsg.DeleteRecordsRequest:
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = w.topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Offset = 0
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		r.TimeoutMillis = 15000
	case *kmsg.InitProducerIDRequest:
		r.TransactionTimeoutMillis = 60000
	case *kmsg.OffsetForLeaderEpochRequest:
		r.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = w.topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	case *kmsg.AddPartitionsToTxnRequest:
		r.TransactionalID, r.ProducerID, r.ProducerEpoch = uniq("txn"), 1, 0
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = w.topic, []int32{0}
		r.Topics = append(r.Topics, rt)
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = uniq("txn"), 1, 0, true
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = w.topic, []int32{0}
		tx.Topics = append(tx.Topics, tt)
		r.Transactions = append(r.Transactions, tx)
	case *kmsg.AddOffsetsToTxnRequest:
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group = uniq("txn"), 1, 0, uniq("txn-group")
	case *kmsg.EndTxnRequest:
		r.TransactionalID, r.ProducerID, r.ProducerEpoch = uniq("txn"), 1, 0
	case *kmsg.TxnOffsetCommitRequest:
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group, r.Generation = uniq("txn"), 1, 0, uniq("txn-group"), -1
	case *kmsg.DescribeACLsRequest:
		r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if v == 0 {
			r.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		}
	case *kmsg.DescribeConfigsRequest:
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, w.topic
		r.Resources = append(r.Resources, rr)
	case *kmsg.ListPartitionReassignmentsRequest:
		r.TimeoutMillis = 15000
	case *kmsg.AlterPartitionAssignmentsRequest:
		r.TimeoutMillis = 15000
	case *kmsg.OffsetDeleteRequest:
		r.Group = uniq("commit")
	case *kmsg.DescribeQuorumRequest:
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
		r.Topics = append(r.Topics, rt)
	case *kmsg.AlterPartitionRequest:
		r.BrokerID, r.BrokerEpoch = 999, 1 // no such broker
	case *kmsg.BrokerRegistrationRequest:
		// Another cluster's id: refused before anything is registered.
		r.BrokerID, r.ClusterID = 999, "not-"+w.cluster
	case *kmsg.BrokerHeartbeatRequest:
		r.BrokerID, r.BrokerEpoch = 999, 1
	case *kmsg.AllocateProducerIDsRequest:
		r.BrokerID, r.BrokerEpoch = 999, 1
	case *kmsg.UnregisterBrokerRequest:
		r.BrokerID = 999 // no such broker: BROKER_ID_NOT_REGISTERED, nothing removed
	case *kmsg.DescribeProducersRequest:
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = w.topic, []int32{0}
		r.Topics = append(r.Topics, rt)
	case *kmsg.DescribeTransactionsRequest:
		r.TransactionalIDs = []string{uniq("txn")}
	case *kmsg.ConsumerGroupHeartbeatRequest:
		r.Group, r.MemberID, r.MemberEpoch = uniq("848"), "walkmember0123456789a", 0
		r.RebalanceTimeoutMillis = 10000
		r.SubscribedTopicNames = []string{w.topic}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{} // joining: empty, not null
	case *kmsg.EnvelopeRequest:
		// A forwardable, harmless request from an anonymous client, as a
		// broker wraps it (KIP-590).
		inner := kmsg.NewPtrListPartitionReassignmentsRequest()
		inner.TimeoutMillis = 15000
		framed := kmsg.NewRequestFormatter(kmsg.FormatterClientID("walk")).AppendRequest(nil, inner, 1)
		r.RequestData = framed[4:]
		p := kmsg.NewDefaultPrincipalData()
		p.Type, p.Name = "User", "ANONYMOUS"
		r.RequestPrincipal = p.AppendTo(binary.BigEndian.AppendUint16(nil, uint16(p.Version)))
		r.ClientHostAddress = []byte{127, 0, 0, 1}
	case *kmsg.ConsumerGroupDescribeRequest:
		r.Groups = []string{uniq("848")}
	case *kmsg.ShareGroupHeartbeatRequest:
		r.GroupID, r.MemberID, r.MemberEpoch = uniq("share"), "walkmember0123456789a", 0
		r.SubscribedTopicNames = []string{w.topic}
	case *kmsg.ShareGroupDescribeRequest:
		r.GroupIDs = []string{uniq("share")}
	case *kmsg.ShareFetchRequest:
		// A member the group does not know, opening a session.
		r.GroupID, r.MemberID = kmsg.StringPtr(uniq("share")), kmsg.StringPtr("no-such-member-012345")
		r.ShareSessionEpoch, r.MaxBytes, r.MaxRecords, r.BatchSize = 0, 1<<20, 10, 10
	case *kmsg.ShareAcknowledgeRequest:
		r.GroupID, r.MemberID = kmsg.StringPtr(uniq("share")), kmsg.StringPtr("no-such-member-012345")
		r.ShareSessionEpoch = 1
	case *kmsg.InitializeShareGroupStateRequest:
		r.GroupID = uniq("share-state")
	case *kmsg.ReadShareGroupStateRequest:
		r.GroupID = uniq("share-state")
	case *kmsg.WriteShareGroupStateRequest:
		r.GroupID = uniq("share-state")
	case *kmsg.DeleteShareGroupStateRequest:
		r.GroupID = uniq("share-state")
	case *kmsg.ReadShareGroupStateSummaryRequest:
		r.GroupID = uniq("share-state")
	case *kmsg.DescribeShareGroupOffsetsRequest:
		g := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		g.GroupID = uniq("share")
		r.Groups = append(r.Groups, g)
	case *kmsg.AlterShareGroupOffsetsRequest:
		r.GroupID = uniq("share")
	case *kmsg.DeleteShareGroupOffsetsRequest:
		r.GroupID = uniq("share")
	}
}

// walkAllowed lists, per key, error codes the walk accepts although they
// are UNSUPPORTED_VERSION or INVALID_REQUEST, with the reason Kafka gives
// them to that (well-formed) request. None is needed today: every request
// above is answered without either.
var walkAllowed = map[int16]map[int16]string{}

// errorCodes collects every ErrorCode field of a response, at any depth.
func errorCodes(v reflect.Value, path string, out map[string]int16) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			errorCodes(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type.Kind() == reflect.Int16 && strings.HasSuffix(f.Name, "ErrorCode") {
				at := path + "." + f.Name
				if m := v.FieldByName(strings.TrimSuffix(f.Name, "Code") + "Message"); m.IsValid() && m.Kind() == reflect.Pointer && !m.IsNil() {
					at += fmt.Sprintf(" (%s)", m.Elem().String())
				}
				out[at] = int16(v.Field(i).Int())
				continue
			}
			errorCodes(v.Field(i), path+"."+f.Name, out)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			errorCodes(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// TestAdvertisedVersionsWalk: every advertised (key, version) answers a
// well-formed request with a well-formed response of that version.
func TestAdvertisedVersionsWalk(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withProp("group.initial.rebalance.delay.ms", "0"))
	adm := newAdmin(t, tb.Addr())
	w := &walkEnv{topic: topicName(t, "")}
	createTopic(t, adm, w.topic, 1, nil)
	cl := newClient(t, tb.Addr())
	w.topicID = topicID(t, cl, w.topic)
	produceSync(t, cl, &kgo.Record{Topic: w.topic, Value: []byte("walk")})
	meta, err := adm.BrokerMetadata(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	w.cluster = meta.Cluster

	rc := dialRaw(t, tb.Addr())
	versions := rc.roundTrip(1, apiVersionsReq()).(*kmsg.ApiVersionsResponse)
	if versions.ErrorCode != 0 || len(versions.ApiKeys) == 0 {
		t.Fatalf("ApiVersions: error %d, %d keys", versions.ErrorCode, len(versions.ApiKeys))
	}
	walked := 0
	for _, k := range versions.ApiKeys {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			name := fmt.Sprintf("%s v%d", kmsg.NameForKey(k.ApiKey), v)
			req := kmsg.RequestForKey(k.ApiKey)
			if req == nil {
				t.Errorf("key %d is advertised but unknown to kmsg", k.ApiKey)
				break
			}
			if v > req.MaxVersion() {
				t.Errorf("%s: advertised, but kmsg knows versions only up to %d", name, req.MaxVersion())
				break
			}
			req.SetVersion(v)
			walkFill(req, w)
			walkOne(t, tb.Addr(), name, req)
			walked++
		}
	}
	t.Logf("walked %d (key, version) pairs of %d keys", walked, len(versions.ApiKeys))
}

// walkOne sends req on a fresh connection and checks its answer.
func walkOne(t *testing.T, addr, name string, req kmsg.Request) {
	t.Helper()
	rc := dialRaw(t, addr)
	defer rc.c.Close()
	rc.send(7, req)
	frame, err := rc.readFrame(20 * time.Second)
	if err != nil {
		t.Errorf("%s: no answer: %v", name, err)
		return
	}
	corr, resp, err := decodeResponse(frame, req)
	switch {
	case err != nil:
		t.Errorf("%s: response does not decode: %v", name, err)
		return
	case corr != 7:
		t.Errorf("%s: correlation id %d, want 7", name, corr)
		return
	}
	// A response that decodes but leaves bytes over is not well formed:
	// encoding it again must give exactly the bytes received.
	body := frame[4:]
	if req.IsFlexible() && req.Key() != 18 {
		body, _ = skipTags(body)
	}
	if again := resp.AppendTo(nil); len(again) != len(body) {
		t.Errorf("%s: response of %d bytes, its decoding encodes to %d", name, len(body), len(again))
	}
	codes := map[string]int16{}
	errorCodes(reflect.ValueOf(resp), "", codes)
	for path, code := range codes {
		if code != kerr.UnsupportedVersion.Code && code != kerr.InvalidRequest.Code {
			continue
		}
		if _, ok := walkAllowed[req.Key()][code]; ok {
			continue
		}
		t.Errorf("%s: %s = %s", name, path, kerr.ErrorForCode(code).(*kerr.Error).Message)
	}
}
