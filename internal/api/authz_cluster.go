package api

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/txn"
)

// Authorization of the cluster and transaction APIs, following KafkaApis
// and ControllerApis. Each function returns the error answer when the
// request is not authorized, nil when it may go on.

var (
	clusterDenied = kerr.ClusterAuthorizationFailed.Code
	txnIDDenied   = kerr.TransactionalIDAuthorizationFailed.Code
	topicDenied   = kerr.TopicAuthorizationFailed.Code
)

// electLeadersDenied: ALTER on the cluster; the error at the top and on
// every requested partition.
func (z authz) electLeadersDenied(r *kmsg.ElectLeadersRequest) kmsg.Response {
	if z.cluster(auth.OpAlter) {
		return nil
	}
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.ErrorCode = clusterDenied
	for _, t := range r.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, clusterDenied
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// alterScramDenied: ALTER on the cluster, the error for every user.
func (z authz) alterScramDenied(r *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	if z.cluster(auth.OpAlter) {
		return nil
	}
	resp := kmsg.NewPtrAlterUserSCRAMCredentialsResponse()
	seen := map[string]bool{}
	add := func(user string) {
		if !seen[user] {
			seen[user] = true
			rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			rr.User, rr.ErrorCode = user, clusterDenied
			resp.Results = append(resp.Results, rr)
		}
	}
	for _, d := range r.Deletions {
		add(d.Name)
	}
	for _, u := range r.Upsertions {
		add(u.Name)
	}
	return resp
}

// writeTxnMarkersDenied: CLUSTER_ACTION (brokers only), on every partition.
func (z authz) writeTxnMarkersDenied(r *kmsg.WriteTxnMarkersRequest) kmsg.Response {
	if z.cluster(auth.OpClusterAction) {
		return nil
	}
	return writeTxnMarkersResponse(r, func(*kmsg.WriteTxnMarkersRequestMarker, string, int32) int16 {
		return clusterDenied
	})
}

// writeTxnMarkersResponse answers every partition of every marker of r,
// in request order, with the code that code returns for it (also the
// answer of handleWriteTxnMarkers, with the code of each write).
func writeTxnMarkersResponse(r *kmsg.WriteTxnMarkersRequest, code func(m *kmsg.WriteTxnMarkersRequestMarker, topic string, idx int32) int16) *kmsg.WriteTxnMarkersResponse {
	resp := kmsg.NewPtrWriteTxnMarkersResponse()
	for _, m := range r.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, idx := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = idx, code(&m, t.Topic, idx)
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

// initProducerIDCode: WRITE on the transactional id; for an idempotent
// producer IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679).
func (z authz) initProducerIDCode(txnID *string) int16 {
	switch {
	case z.a == nil:
	case txnID != nil:
		if !z.txnID(auth.OpWrite, *txnID) {
			return txnIDDenied
		}
	case !z.cluster(auth.OpIdempotentWrite) && !z.anyOfType(auth.OpWrite, auth.ResourceTopic):
		return clusterDenied
	}
	return 0
}

// addPartitionsToTxnDenied: v0-3 (clients) need WRITE on the transactional
// id (else every partition fails) and on each topic (the partitions of
// denied topics fail with TOPIC_AUTHORIZATION_FAILED, the others with
// OPERATION_NOT_ATTEMPTED); v4+ (brokers verifying) needs CLUSTER_ACTION.
func (z authz) addPartitionsToTxnDenied(r *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	if z.a == nil {
		return nil
	}
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	if r.Version >= 4 {
		if z.cluster(auth.OpClusterAction) {
			return nil
		}
		resp.ErrorCode = clusterDenied
		return resp
	}
	txnOK := z.txnID(auth.OpWrite, r.TransactionalID)
	anyDenied := !txnOK
	denied := map[string]bool{}
	for _, t := range r.Topics {
		if txnOK && !z.topic(auth.OpWrite, t.Topic) {
			denied[t.Topic], anyDenied = true, true
		}
	}
	if !anyDenied {
		return nil
	}
	for _, t := range r.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		code := kerr.OperationNotAttempted.Code
		switch {
		case !txnOK:
			code = txnIDDenied
		case denied[t.Topic]:
			code = topicDenied
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// addOffsetsToTxnCode: WRITE on the transactional id, READ on the group.
func (z authz) addOffsetsToTxnCode(r *kmsg.AddOffsetsToTxnRequest) int16 {
	switch {
	case !z.txnID(auth.OpWrite, r.TransactionalID):
		return txnIDDenied
	case !z.group(auth.OpRead, r.Group):
		return groupDenied
	}
	return 0
}

// txnOffsetCommitSplit: WRITE on the transactional id and READ on the
// group (else every partition fails); topics without READ fail with
// TOPIC_AUTHORIZATION_FAILED and are not committed.
func (z authz) txnOffsetCommitSplit(r *kmsg.TxnOffsetCommitRequest) (*kmsg.TxnOffsetCommitRequest, int16, func(*kmsg.TxnOffsetCommitResponse)) {
	none := func(*kmsg.TxnOffsetCommitResponse) {}
	switch {
	case z.a == nil:
		return r, 0, none
	case !z.txnID(auth.OpWrite, r.TransactionalID):
		return r, txnIDDenied, none
	case !z.group(auth.OpRead, r.Group):
		return r, groupDenied, none
	}
	keep, denied := splitBy(r.Topics, func(t kmsg.TxnOffsetCommitRequestTopic) bool {
		return z.topic(auth.OpRead, t.Topic)
	})
	if len(denied) == 0 {
		return r, 0, none
	}
	c := *r
	c.Topics = keep
	return &c, 0, func(resp *kmsg.TxnOffsetCommitResponse) {
		resp.Topics = append(resp.Topics, txn.OffsetCommitErrors(denied, topicDenied)...)
	}
}

// describeTransactionsFix: DESCRIBE on each transactional id, and only
// the partitions of topics the principal may DESCRIBE.
func (z authz) describeTransactionsFix(resp *kmsg.DescribeTransactionsResponse) {
	if z.a == nil {
		return
	}
	for i := range resp.TransactionStates {
		s := &resp.TransactionStates[i]
		if !z.txnID(auth.OpDescribe, s.TransactionalID) {
			d := kmsg.NewDescribeTransactionsResponseTransactionState()
			d.TransactionalID, d.ErrorCode = s.TransactionalID, txnIDDenied
			*s = d
			continue
		}
		s.Topics = slices.DeleteFunc(s.Topics, func(t kmsg.DescribeTransactionsResponseTransactionStateTopic) bool {
			return !z.topic(auth.OpDescribe, t.Topic)
		})
	}
}

// listTransactionsFix keeps the transactional ids the principal may DESCRIBE.
func (z authz) listTransactionsFix(resp *kmsg.ListTransactionsResponse) {
	if z.a == nil {
		return
	}
	resp.TransactionStates = slices.DeleteFunc(resp.TransactionStates, func(s kmsg.ListTransactionsResponseTransactionState) bool {
		return !z.txnID(auth.OpDescribe, s.TransactionalID)
	})
}
