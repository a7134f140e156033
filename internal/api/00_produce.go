package api

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(0, 0, 12, handleProduce) }

// DropProduceResponse is a test hook: when set, it is asked for every
// Produce request (by client id) after the records are appended and
// durable; true drops the response and closes the connection, as a network
// that lost the answer would, so the client retries the same batch.
var DropProduceResponse atomic.Pointer[func(clientID string) bool]

// produced is one partition's append, waiting to be committed.
type produced struct {
	p    *replica.Partition
	resp *kmsg.ProduceResponseTopicPartition
	upTo int64
}

// handleProduce validates and appends in the read loop, so pipelined
// requests reach each log in order; the Reply then waits for durability
// (group commit: pipelined requests usually share one fsync).
func handleProduce(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	if r.Acks != 0 && r.Acks != 1 && r.Acks != -1 {
		for _, rt := range r.Topics {
			t := kmsg.NewProduceResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition = rp.Partition
				p.ErrorCode = kerr.InvalidRequiredAcks.Code
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return server.Ready(&server.Response{Msg: resp})
	}
	z := authorizer(e, req)
	if z.produceDenied(r) {
		return server.Ready(&server.Response{Msg: produceError(r, kerr.TransactionalIDAuthorizationFailed.Code)})
	}
	img := e.Meta.Image()
	var verify func(p *replica.Partition, h *record.Header) (*replica.TxnGuard, int16)
	if r.TransactionID != nil && e.Txn != nil {
		verify = func(p *replica.Partition, h *record.Header) (*replica.TxnGuard, int16) {
			start, guard := p.TxnStart(h.ProducerID, h.ProducerEpoch)
			if !start {
				return nil, 0
			}
			if r.Version >= 12 {
				// KIP-890 part 2: the partition joins the transaction here,
				// and its end bumps the epoch (replica.TxnGuard).
				return guard.EpochBumps(), produceVerifyCode(e.Txn.AddImplicit(*r.TransactionID, h.ProducerID, h.ProducerEpoch, p.Topic, p.Index))
			}
			return guard, produceVerifyCode(e.Txn.Verify(*r.TransactionID, h.ProducerID, h.ProducerEpoch, p.Topic, p.Index))
		}
	}
	var waits []produced
	var hints hintBrokers
	for _, rt := range r.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name := rt.Topic
		if r.Version >= 13 {
			if ti := img.TopicsByID[metadata.UUID(rt.TopicID)]; ti != nil {
				name = ti.Name
			}
		}
		denied := !z.topic(auth.OpWrite, name)
		t.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			pr := &t.Partitions[i]
			*pr = kmsg.NewProduceResponseTopicPartition()
			pr.Partition = rp.Partition
			if denied {
				pr.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if controller.IsInternalTopic(name) {
				// Only the coordinators write their internal topics:
				// a client record there would be replayed as state.
				pr.ErrorCode = kerr.InvalidTopicException.Code
				msg := "cannot append to internal topic " + name
				pr.ErrorMessage = &msg
				continue
			}
			p, code, hint := e.leaderOf(img, name, rp.Partition)
			if p == nil {
				pr.ErrorCode = code
				if code == kerr.UnknownTopicOrPartition.Code && r.Version >= 13 && img.TopicsByID[metadata.UUID(rt.TopicID)] == nil {
					pr.ErrorCode = kerr.UnknownTopicID.Code
				}
				if code == kerr.NotLeaderForPartition.Code && r.Version >= 10 {
					pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch = hint.ID, hint.Epoch
					hints.add(hint)
				}
				continue
			}
			if r.Acks == -1 && p.ISRSize() < int(p.Config().MinInsyncReplicas) {
				// Kafka checks before appending: an acks=all write
				// must not land when the ISR cannot protect it.
				pr.ErrorCode = kerr.NotEnoughReplicas.Code
				msg := fmt.Sprintf("the ISR has %d replicas, fewer than min.insync.replicas %d", p.ISRSize(), p.Config().MinInsyncReplicas)
				pr.ErrorMessage = &msg
				continue
			}
			upTo, code, msg := appendAnyFormat(p, r.Version, rp.Records, pr, verify)
			pr.ErrorCode = code
			if msg != "" {
				pr.ErrorMessage = &msg
			}
			if code == 0 {
				waits = append(waits, produced{p, pr, upTo})
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	if r.Version >= 10 {
		for _, lb := range hints.endpoints(e, req, img) {
			b := kmsg.NewProduceResponseBroker()
			b.NodeID, b.Host, b.Port, b.Rack = lb.ID, lb.Host, lb.Port, lb.Rack
			resp.Brokers = append(resp.Brokers, b)
		}
	}
	if r.Acks == 0 {
		// No response is sent, but the records still become durable and
		// visible: commit in the background.
		for _, w := range waits {
			go w.p.Commit(w.upTo)
		}
		// A refused partition closes the connection, as Kafka does: the
		// only way to tell an acks=0 producer that records were lost.
		return server.Ready(&server.Response{None: true, Close: produceFailed(resp)})
	}
	// The commit starts now, not when the connection's replies reach this
	// one: replies run one at a time in request order, so waiting there
	// would fsync the partitions of pipelined requests one after another.
	// Started here, they run alongside the previous requests' fsyncs (and
	// join them: Sync is a group commit). Responses still leave in order.
	done := make(chan struct{})
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	switch len(waits) {
	case 0:
		close(done)
	case 1:
		// One partition (the common request at linger 0): the fsync
		// that covers it completes it, and only a wait for followers
		// takes a goroutine.
		w := waits[0]
		w.p.CommitThen(w.upTo, func(err error) {
			if err != nil {
				w.resp.ErrorCode, w.resp.BaseOffset = kerr.KafkaStorageError.Code, -1
				close(done)
				return
			}
			if r.Acks != -1 || w.p.Replicated(w.upTo, int(w.p.Config().MinInsyncReplicas)) {
				close(done)
				return
			}
			go func() {
				awaitReplicated(w, timeout, req.Conn.Done)
				close(done)
			}()
		})
	default:
		go func() {
			settleAll(waits, r.Acks == -1, timeout, req.Conn.Done)
			close(done)
		}()
	}
	return func() *server.Response {
		<-done
		if drop := DropProduceResponse.Load(); drop != nil && (*drop)(req.ClientID) {
			return &server.Response{None: true, Close: true}
		}
		return &server.Response{Msg: resp, Throttle: produceThrottle(e, req)}
	}
}

// produceVerifyCode maps a transaction coordinator answer to what a
// producer understands on Produce, as Kafka does: a coordinator that is
// busy or loading is NOT_ENOUGH_REPLICAS (retriable), an unknown producer
// id mapping INVALID_TXN_STATE, a fenced epoch INVALID_PRODUCER_EPOCH.
func produceVerifyCode(code int16) int16 {
	switch code {
	case kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code, kerr.ConcurrentTransactions.Code:
		return kerr.NotEnoughReplicas.Code
	case kerr.InvalidProducerIDMapping.Code:
		return kerr.InvalidTxnState.Code
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// settleAll makes each partition's records durable and, for acks=all,
// waits until the HW covers them, in parallel across partitions. Each
// partition goes straight from its fsync to its ISR wait, and the calling
// goroutine settles the last partition itself: a one-partition request
// (the common case with linger 0) starts no goroutine, and a larger one
// is woken once, by the slowest partition, not once per stage.
func settleAll(waits []produced, all bool, timeout time.Duration, gone <-chan struct{}) {
	var wg sync.WaitGroup
	for _, w := range waits[:len(waits)-1] {
		wg.Add(1)
		go func() { defer wg.Done(); settle(w, all, timeout, gone) }()
	}
	settle(waits[len(waits)-1], all, timeout, gone)
	wg.Wait()
}

// settle commits one partition's append and, with all (acks=all), waits
// until the HW covers it, bounded by timeout; the outcome goes to its
// response. A failed commit is KAFKA_STORAGE_ERROR and skips the wait. On
// one broker (ISR = the leader) the HW is already there after the commit.
func settle(w produced, all bool, timeout time.Duration, gone <-chan struct{}) {
	if err := w.p.Commit(w.upTo); err != nil {
		w.resp.ErrorCode, w.resp.BaseOffset = kerr.KafkaStorageError.Code, -1
		return
	}
	if all {
		awaitReplicated(w, timeout, gone)
	}
}

// awaitReplicated waits until the HW covers w's records with enough of
// the ISR, bounded by timeout; a failure goes to w's response.
func awaitReplicated(w produced, timeout time.Duration, gone <-chan struct{}) {
	err := w.p.AwaitReplicated(w.upTo, int(w.p.Config().MinInsyncReplicas), timeout, gone)
	code := int16(0)
	switch {
	case err == nil:
		return
	case errors.Is(err, replica.ErrNotEnoughReplicasAfterAppend):
		code = kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, replica.ErrNotLeader):
		code = kerr.NotLeaderForPartition.Code
	default:
		code = kerr.RequestTimedOut.Code
	}
	w.resp.ErrorCode, w.resp.BaseOffset = code, -1
}
