package broker

// Wiring of internal/metrics: the per-request observer handed to the
// server, the scrape-time state, and the metrics.listener HTTP server.

import (
	"bytes"
	"errors"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/metrics"
	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/server"
)

// brokerMetrics is the broker's metrics state.
type brokerMetrics struct {
	ready atomic.Bool
	srv   *metrics.Server
}

// MetricsAddr is the bound metrics listener address, "" when off.
func (b *Broker) MetricsAddr() string {
	if b.obs.srv == nil {
		return ""
	}
	return b.obs.srv.Addr()
}

// startMetrics registers the scrape-time state and, when metrics.listener
// is set, starts the HTTP listener. Call once everything else is built.
func (b *Broker) startMetrics() error {
	b.meta.Subscribe(func(old, img *metadata.Image) {
		for name := range old.TopicsByName {
			if _, ok := img.TopicsByName[name]; !ok {
				metrics.ForgetTopic(name)
			}
		}
	})
	state := metrics.State{Partitions: b.partitionStats, Groups: b.groupLags, IsController: func() bool { return b.meta.QuorumStatus().IsLeader }, Connections: b.srv.NumConns,
		MemoryPool: b.memoryPoolStat, ReplicaMaxLag: b.parts.ReplicaMaxLag, OfflinePartitions: b.offlinePartitions,
		ReplicationByteRate: func() (float64, float64) { return b.throttle.leader.ByteRate(), b.throttle.follower.ByteRate() }}
	if l := b.cfg.MetricsListener(); l != "" {
		srv, err := metrics.Serve(l, b.readyErr, state, b.logger.With("component", "metrics"))
		if err != nil {
			return err
		}
		b.obs.srv = srv
		b.logger.Info("metrics listening", "metrics.listener", "http://"+srv.Addr()+"/metrics")
	}
	b.obs.ready.Store(true)
	return nil
}

func (b *Broker) memoryPoolStat() metrics.MemoryPoolStat {
	s := b.srv.PoolStats()
	return metrics.MemoryPoolStat{Used: s.Used, Limit: s.Limit, Depleted: s.Depleted}
}

func (b *Broker) stopMetrics() {
	b.obs.ready.Store(false)
	if b.obs.srv != nil {
		b.obs.srv.Close()
	}
}

func (b *Broker) readyErr() error {
	if !b.obs.ready.Load() {
		return errors.New("starting or shutting down")
	}
	return nil
}

func (b *Broker) partitionStats() []metrics.PartitionStat {
	if !b.obs.ready.Load() {
		return nil
	}
	var out []metrics.PartitionStat
	lags := b.parts.FollowerLags()
	for _, p := range b.parts.All() {
		l := p.Log()
		leads, under := p.ReplicationState()
		underMin, atMin := p.MinISRState()
		lag, lagKnown := lags[p]
		out = append(out, metrics.PartitionStat{Topic: p.Topic, Partition: p.Index, Size: l.Size(),
			StartOffset: l.StartOffset(), EndOffset: l.EndOffset(), HighWater: p.HighWatermark(),
			Follower: !leads, UnderReplicated: under, UnderMinISR: underMin, AtMinISR: atMin,
			Lag: lag, LagKnown: lagKnown})
	}
	return out
}

// offlinePartitions counts the image's partitions without a leader
// (Kafka's OfflinePartitionsCount); metrics reads it only on the active
// controller, whose image is the committed metadata.
func (b *Broker) offlinePartitions() int {
	img := b.meta.Image()
	if img == nil {
		return 0
	}
	n := 0
	for _, t := range img.TopicsByName {
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				n++
			}
		}
	}
	return n
}

// groupLags asks the group coordinator, as a client would, for every
// group's committed offsets; only at scrape time.
func (b *Broker) groupLags() []metrics.GroupLag {
	if !b.obs.ready.Load() {
		return nil
	}
	timeout := time.After(2 * time.Second)
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version = 5
	var groups *kmsg.ListGroupsResponse
	select {
	case groups = <-b.coord.ListGroups(lg):
	case <-timeout:
		return nil
	}
	var out []metrics.GroupLag
	for _, g := range groups.Groups {
		of := kmsg.NewPtrOffsetFetchRequest()
		of.Version = 8
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g.Group
		of.Groups = append(of.Groups, rg)
		var resp *kmsg.OffsetFetchResponse
		select {
		case resp = <-b.coord.OffsetFetch(of):
		case <-timeout:
			return out
		}
		for _, rg := range resp.Groups {
			for _, t := range rg.Topics {
				for _, p := range t.Partitions {
					part := b.parts.Get(t.Topic, p.Partition)
					if p.ErrorCode != 0 || p.Offset < 0 || part == nil {
						continue
					}
					out = append(out, metrics.GroupLag{Group: rg.Group, Topic: t.Topic, Partition: p.Partition,
						Committed: p.Offset, Lag: max(part.HighWatermark()-p.Offset, 0)})
				}
			}
		}
	}
	return out
}

// observe is the server's per-response hook: request count and latency per
// API, and per-topic bytes and records of Produce and Fetch.
func (b *Broker) observe(req *server.Request, resp *server.Response, d time.Duration) {
	if req.Body == nil {
		return
	}
	metrics.Request(req.Key, kmsg.NameForKey(req.Key), d)
	switch r := req.Body.(type) {
	case *kmsg.ProduceRequest:
		var pr *kmsg.ProduceResponse
		if !resp.None {
			pr, _ = resp.Msg.(*kmsg.ProduceResponse)
		}
		b.observeProduce(r, pr)
	case *kmsg.FetchRequest:
		if fr, ok := resp.Msg.(*kmsg.FetchResponse); ok {
			b.observeFetch(fr, resp.Splices)
		}
	}
}

// observeProduce counts each partition's batch bytes and records (one
// header parse per batch). With acks=0 (no response) every partition counts.
func (b *Broker) observeProduce(r *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	names := topicNamer{b: b}
	for i, t := range r.Topics {
		var rt *kmsg.ProduceResponseTopic
		if resp != nil && i < len(resp.Topics) && resp.Topics[i].Topic == t.Topic && resp.Topics[i].TopicID == t.TopicID {
			rt = &resp.Topics[i]
		}
		name, ok := names.name(t.Topic, t.TopicID)
		if !ok {
			continue
		}
		for j, p := range t.Partitions {
			failed := false
			if rt != nil && j < len(rt.Partitions) && rt.Partitions[j].Partition == p.Partition {
				failed = rt.Partitions[j].ErrorCode != 0
			}
			metrics.Produced(name, int64(len(p.Records)), countRecords(p.Records), failed)
		}
	}
}

// observeFetch counts the record bytes of each partition, spliced from
// files or inline.
func (b *Broker) observeFetch(resp *kmsg.FetchResponse, splices []server.Splice) {
	names := topicNamer{b: b}
	next := 0
	for _, t := range resp.Topics {
		name, ok := names.name(t.Topic, t.TopicID)
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			n, records := int64(len(p.RecordBatches)), int64(0)
			if next < len(splices) && bytes.Equal(p.RecordBatches, splices[next].Marker) {
				n, records = 0, splices[next].Records
				for _, fp := range splices[next].Parts {
					n += fp.Len
				}
				next++
			} else {
				records = countRecords(p.RecordBatches)
			}
			metrics.Fetched(name, n, records)
		}
	}
}

// topicNamer names the topics of one Produce or Fetch for metrics. v13+
// carries topic ids only; their names come from the metadata image, taken
// once per message and only when needed.
type topicNamer struct {
	b   *Broker
	img *metadata.Image
}

// name is topic, or the name of the topic with id when topic is empty;
// ok is false for an id not in the image.
func (n *topicNamer) name(topic string, id [16]byte) (name string, ok bool) {
	if topic != "" {
		return topic, true
	}
	if n.img == nil {
		n.img = n.b.meta.Image()
	}
	ti := n.img.TopicsByID[metadata.UUID(id)]
	if ti == nil {
		return "", false
	}
	return ti.Name, true
}

// pendingHandler counts Produce and Fetch requests from decoding until
// their reply is ready (metrics.Pending): the purgatory sizes.
type pendingHandler struct{ server.Handler }

func (h pendingHandler) Handle(req *server.Request) server.Reply {
	reply := h.Handler.Handle(req)
	g := metrics.Pending(req.Key)
	if g == nil {
		return reply
	}
	g.Inc()
	return func() *server.Response {
		defer g.Dec()
		return reply()
	}
}

// countRecords sums the record counts of the batch headers in b.
func countRecords(b []byte) int64 {
	var records int64
	for len(b) >= record.HeaderSize {
		h, err := record.ParseHeader(b)
		if err != nil || h.Size() <= 0 || h.Size() > len(b) {
			break
		}
		records += int64(h.NumRecords)
		b = b[h.Size():]
	}
	return records
}
