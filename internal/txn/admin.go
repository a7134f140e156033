package txn

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stateNames are Kafka's names of transaction states (DescribeTransactions,
// ListTransactions, kafka-transactions.sh).
var stateNames = map[kmsg.TransactionState]string{
	kmsg.TransactionStateEmpty:             "Empty",
	kmsg.TransactionStateOngoing:           "Ongoing",
	kmsg.TransactionStatePrepareCommit:     "PrepareCommit",
	kmsg.TransactionStatePrepareAbort:      "PrepareAbort",
	kmsg.TransactionStateCompleteCommit:    "CompleteCommit",
	kmsg.TransactionStateCompleteAbort:     "CompleteAbort",
	kmsg.TransactionStateDead:              "Dead",
	kmsg.TransactionStatePrepareEpochFence: "PrepareEpochFence",
}

// DescribeTransactions describes each transactional id this broker
// coordinates (NOT_COORDINATOR for the others).
func (c *Coordinator) DescribeTransactions(r *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
	resp := kmsg.NewPtrDescribeTransactionsResponse()
	for _, id := range r.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
		if _, ok := c.meta.Image().Topic(StateTopic); !ok {
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		s, code := c.shardFor(id)
		if code != 0 {
			st.ErrorCode = code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		if m := s.txns[id]; m == nil {
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
		} else {
			st.State, st.TimeoutMillis, st.StartTimestamp = stateNames[m.state], m.timeoutMs, m.startMs
			st.ProducerID, st.ProducerEpoch = m.pid, m.epoch
			byTopic := map[string][]int32{}
			for p := range m.parts {
				byTopic[p.topic] = append(byTopic[p.topic], p.partition)
			}
			for t, ps := range byTopic {
				sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
				dt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				dt.Topic, dt.Partitions = t, ps
				st.Topics = append(st.Topics, dt)
			}
			sort.Slice(st.Topics, func(i, j int) bool { return st.Topics[i].Topic < st.Topics[j].Topic })
		}
		s.mu.Unlock()
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}

// ListTransactions lists transactional ids, filtered by state, producer id
// and (v1+) minimum running time.
func (c *Coordinator) ListTransactions(r *kmsg.ListTransactionsRequest) *kmsg.ListTransactionsResponse {
	resp := kmsg.NewPtrListTransactionsResponse()
	states := map[string]bool{}
	known := map[string]bool{}
	for _, n := range stateNames {
		known[n] = true
	}
	for _, f := range r.StateFilters {
		if known[f] {
			states[f] = true
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, f)
		}
	}
	pids := map[int64]bool{}
	for _, p := range r.ProducerIDFilters {
		pids[p] = true
	}
	now := c.now().UnixMilli()
	if _, ok := c.meta.Image().Topic(StateTopic); !ok {
		return resp
	}
	c.follow()
	for _, s := range c.loadedShards() {
		// Only the partitions this broker leads: the admin client asks
		// every broker and merges (Kafka's ListTransactions).
		if _, code := s.acquire(c.cfg.LoadWait); code != 0 {
			if code == kerr.CoordinatorLoadInProgress.Code {
				resp.ErrorCode = code
			}
			continue
		}
		for id, m := range s.txns {
			name := stateNames[m.state]
			switch {
			case len(states) > 0 && !states[name],
				len(r.StateFilters) > 0 && len(states) == 0,
				len(pids) > 0 && !pids[m.pid],
				r.Version >= 1 && r.DurationFilterMillis >= 0 && (m.state != kmsg.TransactionStateOngoing || now-m.startMs < r.DurationFilterMillis):
				continue
			}
			st := kmsg.NewListTransactionsResponseTransactionState()
			st.TransactionalID, st.ProducerID, st.TransactionState = id, m.pid, name
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
		s.mu.Unlock()
	}
	if resp.ErrorCode != 0 {
		resp.TransactionStates = nil
		return resp
	}
	sort.Slice(resp.TransactionStates, func(i, j int) bool {
		return resp.TransactionStates[i].TransactionalID < resp.TransactionStates[j].TransactionalID
	})
	return resp
}
