package console

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// A share group (KIP-932) is not described by DescribeGroups: its page is
// built from ShareGroupDescribe (state, members, assignments) and
// DescribeShareGroupOffsets (each share-partition's start offset and
// lag), what kafka-share-groups --describe --state/--members/--offsets
// shows.

type shareMemberRow struct {
	MemberID, ClientID, Host string
	Epoch                    int32
	Partitions               int
	Assignment               string // "topic: 0, 1; other: 2", topics sorted
}

type shareOffsetRow struct {
	Topic            string
	Partition        int32
	LeaderEpoch      int32
	StartOffset, Lag int64
	Err              string
}

type shareGroupData struct {
	Name, State, Assignor       string
	Coordinator                 int32
	GroupEpoch, AssignmentEpoch int32
	MemberCount                 int
	Members                     []shareMemberRow
	Offsets                     []shareOffsetRow
	TotalLag                    int64
	Chart                       chart
	Pager                       pager
}

// describeShareGroup asks ShareGroupDescribe for name; ok is false when
// it is not a share group (GROUP_ID_NOT_FOUND, or a broker without share
// groups).
func describeShareGroup(ctx context.Context, adm *kadm.Client, name string) (d kadm.DescribedShareGroup, ok bool, err error) {
	ds, err := adm.DescribeShareGroups(ctx, name)
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "broker is too old")) {
			return d, false, nil
		}
		return d, false, err
	}
	d, ok = ds[name]
	switch {
	case !ok, errors.Is(d.Err, kerr.GroupIDNotFound), d.GroupState == "Dead":
		return d, false, nil
	case d.Err != nil:
		return d, false, d.Err
	}
	return d, true, nil
}

// shareGroup renders name's page when it is a share group; it returns
// false, having written nothing, when it is not one.
func (s *Server) shareGroup(ctx context.Context, w http.ResponseWriter, r *http.Request, name string) bool {
	adm := sessionOf(ctx).adm
	d, ok, err := describeShareGroup(ctx, adm, name)
	if err != nil {
		s.fail(w, r, statusFor(err), name, err)
		return true
	}
	if !ok {
		return false
	}
	data := shareGroupData{Name: name, State: d.GroupState, Assignor: d.Assignor, Coordinator: d.Coordinator.NodeID,
		GroupEpoch: d.GroupEpoch, AssignmentEpoch: d.AssignmentEpoch, MemberCount: len(d.Members)}
	for _, m := range d.Members[:min(len(d.Members), s.cfg.PageSize)] {
		row := shareMemberRow{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Epoch: m.MemberEpoch}
		var parts []string
		for _, t := range slices.Sorted(maps.Keys(m.Assignment)) {
			ps := slices.Sorted(maps.Keys(m.Assignment[t]))
			row.Partitions += len(ps)
			nums := make([]string, len(ps))
			for i, p := range ps {
				nums[i] = fmt.Sprint(p)
			}
			parts = append(parts, t+": "+strings.Join(nums, ", "))
		}
		row.Assignment = strings.Join(parts, "; ")
		data.Members = append(data.Members, row)
	}
	offs, err := shareGroupOffsets(ctx, adm, name)
	if err != nil {
		s.fail(w, r, statusFor(err), name, err)
		return true
	}
	data.TotalLag = totalShareLag(offs)
	data.Chart = drawChart("Total lag", s.lags.view(sessionOf(ctx), name, true, data.TotalLag))
	all := offs.Offsets.Sorted()
	data.Pager = paginate(r, len(all), s.cfg.PageSize)
	for _, o := range all[data.Pager.From:data.Pager.To] {
		row := shareOffsetRow{Topic: o.Topic, Partition: o.Partition, LeaderEpoch: o.LeaderEpoch, StartOffset: o.StartOffset, Lag: o.Lag}
		if o.Err != nil {
			row.Err = o.Err.Error()
		}
		data.Offsets = append(data.Offsets, row)
	}
	s.render(w, r, "sharegroup", page{Title: "Share group " + name, Nav: "groups", Data: data})
	return true
}

// shareGroupOffsets asks DescribeShareGroupOffsets for name. The request
// names the group only: the broker answers for every share-partition it
// has state of, as kafka-share-groups does.
func shareGroupOffsets(ctx context.Context, adm *kadm.Client, name string) (kadm.DescribedShareGroupOffsets, error) {
	offs, err := adm.DescribeShareGroupOffsets(ctx, name)
	if err != nil {
		return kadm.DescribedShareGroupOffsets{}, err
	}
	return offs[name], offs[name].Err
}

// totalShareLag sums the share-partitions' lags; an unknown lag (-1, or
// a partition's error) counts as none.
func totalShareLag(o kadm.DescribedShareGroupOffsets) int64 {
	var n int64
	for _, ps := range o.Offsets {
		for _, p := range ps {
			if p.Err == nil && p.Lag > 0 {
				n += p.Lag
			}
		}
	}
	return n
}

// shareGroupLag is a share group's total lag: the one computation of the
// share group page and the lag sampler.
func shareGroupLag(ctx context.Context, adm *kadm.Client, name string) (int64, error) {
	o, err := shareGroupOffsets(ctx, adm, name)
	return totalShareLag(o), err
}
