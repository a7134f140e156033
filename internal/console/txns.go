package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// txnStates are the states ListTransactions can filter on (Kafka's
// TransactionState names).
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "PrepareEpochFence"}

type txnRow struct {
	ID, State      string
	ProducerID     int64
	ProducerEpoch  int16
	Timeout        time.Duration
	Started        string // "" when no transaction is open
	Partitions     []string
	MorePartitions int
	Coordinator    int32
	Err            string
}

type txnsData struct {
	Query, State string
	States       []string
	Rows         []txnRow
	Pager        pager
}

// transactions lists the transactional ids (ListTransactions, which the
// broker filters to those the user may describe) and describes the ones on
// the page (DescribeTransactions, at each id's coordinator).
func (s *Server) transactions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := txnsData{Query: strings.TrimSpace(q.Get("q")), State: q.Get("state"), States: txnStates}
	var states []string
	if d.State != "" {
		if !slices.Contains(txnStates, d.State) {
			s.fail(w, r, http.StatusBadRequest, "Transactions", fmt.Errorf("state %q", d.State))
			return
		}
		states = []string{d.State}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	adm := sessionOf(ctx).adm
	listed, err := adm.ListTransactions(ctx, nil, states)
	if err != nil {
		s.fail(w, r, adminStatus(err), "Transactions", err)
		return
	}
	var ids []string
	for _, id := range listed.TransactionalIDs() {
		if d.Query == "" || strings.Contains(strings.ToLower(id), strings.ToLower(d.Query)) {
			ids = append(ids, id)
		}
	}
	d.Pager = paginate(r, len(ids), s.cfg.PageSize)
	ids = ids[d.Pager.From:d.Pager.To]
	var described kadm.DescribedTransactions
	if len(ids) > 0 {
		if described, err = adm.DescribeTransactions(ctx, ids...); err != nil && described == nil {
			s.fail(w, r, adminStatus(err), "Transactions", err)
			return
		}
	}
	for _, id := range ids {
		l := listed[id]
		row := txnRow{ID: id, State: l.State, ProducerID: l.ProducerID, ProducerEpoch: -1, Coordinator: l.Coordinator}
		t, ok := described[id]
		switch {
		case !ok && err != nil:
			row.Err = err.Error()
		case !ok:
			row.Err = "not described (expired?)"
		case t.Err != nil:
			row.Err = t.Err.Error()
		default:
			row.State, row.ProducerID, row.ProducerEpoch, row.Coordinator = t.State, t.ProducerID, t.ProducerEpoch, t.Coordinator
			row.Timeout = time.Duration(t.TimeoutMillis) * time.Millisecond
			if t.StartTimestamp > 0 {
				row.Started = time.UnixMilli(t.StartTimestamp).UTC().Format(time.RFC3339)
			}
			for _, tp := range t.Topics.Sorted() {
				for _, p := range tp.Partitions {
					if len(row.Partitions) == s.cfg.PageSize {
						row.MorePartitions++
						continue
					}
					row.Partitions = append(row.Partitions, fmt.Sprintf("%s-%d", tp.Topic, p))
				}
			}
		}
		d.Rows = append(d.Rows, row)
	}
	s.render(w, r, "txns", page{Title: "Transactions", Nav: "txns", Data: d})
}

type producerRow struct {
	Partition, Leader     int32
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32
	LastTimestamp         string
	CoordinatorEpoch      int32
	CurrentTxnStartOffset int64 // -1: no open transaction
	Err                   string
}

type producersData struct {
	Topic string
	Rows  []producerRow
	Pager pager // over the topic's partitions
}

// producers is a topic's active producers (DescribeProducers, at each
// partition's leader) for one page of its partitions.
func (s *Server) producers(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	ctx, cancel := s.ctx(r)
	defer cancel()
	adm := sessionOf(ctx).adm
	_, ids, ok := s.topicPartitions(ctx, w, r, name, adminStatus)
	if !ok {
		return
	}
	d := producersData{Topic: name, Pager: paginate(r, len(ids), s.cfg.PageSize)}
	ids = ids[d.Pager.From:d.Pager.To]
	var (
		described kadm.DescribedProducersTopics
		err       error
	)
	if len(ids) > 0 { // an empty set would make kadm ask for every partition
		described, err = adm.DescribeProducers(ctx, kadm.TopicsSet{name: setOf(ids)})
	}
	// kadm keeps what some leaders answered; an authorization failure is
	// the user's, though, not a leader's, and fails the page.
	if err != nil && (len(described) == 0 || adminStatus(err) == http.StatusForbidden) {
		s.fail(w, r, adminStatus(err), "Producers of "+name, err)
		return
	}
	for _, p := range described.SortedPartitions() {
		if p.Err != nil {
			d.Rows = append(d.Rows, producerRow{Partition: p.Partition, Leader: p.Leader, Err: errText(p.Err, p.ErrMessage)})
			continue
		}
		for _, pr := range p.ActiveProducers.Sorted() {
			row := producerRow{Partition: p.Partition, Leader: p.Leader, ProducerID: pr.ProducerID, ProducerEpoch: pr.ProducerEpoch,
				LastSequence: pr.LastSequence, CoordinatorEpoch: pr.CoordinatorEpoch, CurrentTxnStartOffset: pr.CurrentTxnStartOffset}
			if pr.LastTimestamp > 0 {
				row.LastTimestamp = time.UnixMilli(pr.LastTimestamp).UTC().Format(time.RFC3339Nano)
			}
			d.Rows = append(d.Rows, row)
		}
	}
	p := page{Title: "Producers of " + name, Nav: "topics", Data: d}
	if err != nil {
		p.Error = err.Error() // some leaders did not answer
	}
	s.render(w, r, "producers", p)
}

func setOf(ids []int32) map[int32]struct{} {
	m := make(map[int32]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}
