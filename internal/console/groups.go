package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

type groupsData struct {
	Query string
	Rows  []kadm.ListedGroup
	Pager pager
}

// groups lists the groups (ListGroups) by name, filtered, one page at a
// time.
func (s *Server) groups(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	lg, err := sessionOf(ctx).adm.ListGroups(ctx)
	if err != nil {
		s.fail(w, r, statusFor(err), "Groups", err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var rows []kadm.ListedGroup
	for _, g := range lg.Sorted() {
		if q == "" || strings.Contains(strings.ToLower(g.Group), strings.ToLower(q)) {
			rows = append(rows, g)
		}
	}
	pg := paginate(r, len(rows), s.cfg.PageSize)
	s.render(w, r, "groups", page{Title: "Consumer groups", Nav: "groups",
		Data: groupsData{Query: q, Rows: rows[pg.From:pg.To], Pager: pg}})
}

type lagRow struct {
	Topic          string
	Partition      int32
	Member         string
	Committed, End int64
	Lag            int64
	Err            string
}

type groupData struct {
	Name, State, Protocol, ProtocolType string
	Coordinator                         int32
	Members                             []kadm.DescribedGroupMember
	Lag                                 []lagRow
	TotalLag                            int64
	Pager                               pager
	Chart                               chart
	Refresh                             bool // the page reloads itself every lagRefresh seconds
}

// groupLag is a consumer group's description with its lag per
// partition (committed offsets against the partitions' end offsets).
type groupLag = kadm.DescribedGroupLag

// errNotConsumerGroup: DescribeGroups calls the group missing (Dead,
// GROUP_ID_NOT_FOUND); it may be a share group (sharegroup.go), which
// DescribeGroups does not know.
var errNotConsumerGroup = errors.New("not a consumer group")

// consumerGroupLag is kadm's Lag of one group: the one lag computation of
// the group page and the lag sampler.
func consumerGroupLag(ctx context.Context, adm *kadm.Client, name string) (groupLag, error) {
	lags, err := adm.Lag(ctx, name)
	if err != nil {
		return groupLag{}, err
	}
	l, ok := lags[name]
	if !ok || l.State == "Dead" || errors.Is(l.Error(), kerr.GroupIDNotFound) {
		return l, errNotConsumerGroup
	}
	return l, l.Error()
}

// group is one group: members and the lag per partition.
func (s *Server) group(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	ctx, cancel := s.ctx(r)
	defer cancel()
	l, err := consumerGroupLag(ctx, sessionOf(ctx).adm, name)
	if errors.Is(err, errNotConsumerGroup) {
		if !s.shareGroup(ctx, w, r, name) {
			s.fail(w, r, http.StatusNotFound, name, fmt.Errorf("group %q not found", name))
		}
		return
	}
	if err != nil {
		s.fail(w, r, statusFor(err), name, err)
		return
	}
	d := groupData{Name: name, State: l.State, Protocol: l.Protocol, ProtocolType: l.ProtocolType,
		Coordinator: l.Coordinator.NodeID, Members: l.Members, TotalLag: l.Lag.Total(), Refresh: r.URL.Query().Get("refresh") == "1"}
	d.Chart = drawChart("Total lag", s.lags.view(sessionOf(ctx), name, false, d.TotalLag))
	all := l.Lag.Sorted()
	d.Pager = paginate(r, len(all), s.cfg.PageSize)
	for _, m := range all[d.Pager.From:d.Pager.To] {
		row := lagRow{Topic: m.Topic, Partition: m.Partition, Committed: m.Commit.At, End: m.End.Offset, Lag: m.Lag}
		if m.Member != nil {
			row.Member = m.Member.ClientID + " (" + m.Member.ClientHost + ")"
		}
		if m.Err != nil {
			row.Err = m.Err.Error()
		}
		d.Lag = append(d.Lag, row)
	}
	if len(d.Members) > s.cfg.PageSize {
		d.Members = d.Members[:s.cfg.PageSize]
	}
	p := page{Title: "Group " + name, Nav: "groups", Data: d}
	if d.Refresh {
		p.Refresh = lagRefresh
	}
	s.render(w, r, "group", p)
}

// lagSamples answers the group's lag chart data, {"samples": [...]},
// oldest first, of the requester's own series: it is not a view of the
// page (it neither starts nor prolongs sampling).
func (s *Server) lagSamples(w http.ResponseWriter, r *http.Request) {
	xs := s.lags.samples(sessionOf(r.Context()), r.PathValue("group"))
	if xs == nil {
		xs = []float64{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Samples []float64 `json:"samples"`
	}{xs})
}
