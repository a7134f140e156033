package console

import (
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

// group is one group: members and the lag per partition (committed
// offsets against the partitions' end offsets, kadm's Lag).
func (s *Server) group(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	ctx, cancel := s.ctx(r)
	defer cancel()
	lags, err := sessionOf(ctx).adm.Lag(ctx, name)
	if err != nil {
		s.fail(w, r, statusFor(err), name, err)
		return
	}
	l, ok := lags[name]
	// DescribeGroups does not know share groups: a group it calls missing
	// (Dead, GROUP_ID_NOT_FOUND) may be one (sharegroup.go).
	if !ok || l.State == "Dead" || errors.Is(l.Error(), kerr.GroupIDNotFound) {
		if !s.shareGroup(ctx, w, r, name) {
			s.fail(w, r, http.StatusNotFound, name, fmt.Errorf("group %q not found", name))
		}
		return
	}
	if err := l.Error(); err != nil {
		s.fail(w, r, statusFor(err), name, err)
		return
	}
	d := groupData{Name: name, State: l.State, Protocol: l.Protocol, ProtocolType: l.ProtocolType,
		Coordinator: l.Coordinator.NodeID, Members: l.Members, TotalLag: l.Lag.Total(), Refresh: r.URL.Query().Get("refresh") == "1"}
	d.Chart = drawChart("Total lag", s.lags.add(name, d.TotalLag))
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
