package console

import (
	"net/http"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
)

type overviewData struct {
	Cluster           string
	Controller        int32
	Brokers           []kadm.BrokerDetail
	MoreBrokers       int
	Topics            int
	Partitions        int
	UnderReplicated   int
	Offline           int
	ChartIn, ChartOut chart // this process's bytes
	ChartRecords      chart // the cluster's records/s in
}

// overview is the cluster page: one Metadata request for every topic
// (counted, never listed here) and the sampled throughput: the cluster's
// records/s, which a view keeps the rate sampler sampling (ratesampler.go),
// and this process's bytes.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	md, err := sessionOf(ctx).adm.Metadata(ctx)
	if err != nil {
		s.fail(w, r, statusFor(err), "Cluster", err)
		return
	}
	d := overviewData{Cluster: md.Cluster, Controller: md.Controller, Topics: len(md.Topics)}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			d.Partitions++
			if p.Leader < 0 {
				d.Offline++
			}
			if len(p.ISR) < len(p.Replicas) {
				d.UnderReplicated++
			}
		}
	}
	brokers := slices.Clone(md.Brokers)
	slices.SortFunc(brokers, func(a, b kadm.BrokerDetail) int { return int(a.NodeID - b.NodeID) })
	if len(brokers) > s.cfg.PageSize {
		d.MoreBrokers = len(brokers) - s.cfg.PageSize
		brokers = brokers[:s.cfg.PageSize]
	}
	d.Brokers = brokers
	in, out := s.rates.snapshot()
	d.ChartIn, d.ChartOut = sparkline("Bytes in (this node)", in), sparkline("Bytes out (this node)", out)
	d.ChartRecords = recordsChart("Records in (cluster)", s.topicRates.viewCluster(sessionOf(ctx)))
	s.render(w, r, "overview", page{Title: "Cluster", Nav: "overview", Data: d})
}
