package api

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(61, 0, 0, handleDescribeProducers) }

// handleDescribeProducers lists the producers each partition remembers
// (its producer state: epoch, last sequence, open transaction).
func handleDescribeProducers(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeProducersRequest)
	resp := kmsg.NewPtrDescribeProducersResponse()
	z := authorizer(e, req)
	for _, rt := range r.Topics {
		t := kmsg.NewDescribeProducersResponseTopic()
		t.Topic = rt.Topic
		denied := !z.topic(auth.OpRead, rt.Topic)
		for _, idx := range rt.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = idx
			if denied {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, rp)
				continue
			}
			p, code, _ := e.leaderOf(e.Meta.Image(), rt.Topic, idx)
			if p == nil {
				rp.ErrorCode = code
				t.Partitions = append(t.Partitions, rp)
				continue
			}
			ps := p.Producers()
			sort.Slice(ps, func(i, j int) bool { return ps[i].ProducerID < ps[j].ProducerID })
			for _, pi := range ps {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = pi.ProducerID, int32(pi.Epoch), pi.LastSequence
				ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.LastTimestamp, pi.CoordinatorEpoch, pi.TxnStartOffset
				rp.ActiveProducers = append(rp.ActiveProducers, ap)
			}
			t.Partitions = append(t.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return server.Ready(&server.Response{Msg: resp})
}
