package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// A reset moves a group's offsets of one topic, as
// kafka-consumer-groups --reset-offsets (committed offsets, OffsetCommit)
// and kafka-share-groups --reset-offsets (share-partition start offsets,
// AlterShareGroupOffsets) do: to the earliest or latest
// offset, to an offset (clamped to the log), or to the first offset at or
// after a timestamp. It is previewed first (GET) and applied by a form
// (POST); like Kafka's tool, only a group without members (Empty) is
// reset, since a live member would commit over it.

type resetRow struct {
	Partition    int32
	Current, New int64
	Start, End   int64
	Err          string
}

type resetData struct {
	Group, Topic, To, Value string
	State                   string
	Topics                  []string // the topics the group has offsets for
	Rows                    []resetRow
	More                    int // rows not shown
	Applicable              bool
	Share                   bool // a share group: its share-partitions' start offsets
}

// groupStart is where a reset starts from: the group's kind and state,
// and its current offsets by topic and partition.
type groupStart struct {
	state   string
	share   bool
	current map[string]map[int32]int64
}

// loadGroupStart reads a consumer group's committed offsets
// (DescribeGroups, OffsetFetch) or, when DescribeGroups does not know the
// group, a share group's share-partition start offsets
// (ShareGroupDescribe, DescribeShareGroupOffsets).
func loadGroupStart(ctx context.Context, adm *kadm.Client, group string) (groupStart, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return groupStart{}, err
	}
	g, ok := described[group]
	if ok && g.Err == nil && g.State != "Dead" {
		fetched, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return groupStart{}, err
		}
		gs := groupStart{state: g.State, current: map[string]map[int32]int64{}}
		fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				addCurrent(gs.current, o.Topic, o.Partition, o.At)
			}
		})
		return gs, nil
	}
	if ok && g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound) {
		return groupStart{}, g.Err
	}
	sd, ok, err := describeShareGroup(ctx, adm, group)
	if err != nil {
		return groupStart{}, err
	}
	if !ok {
		return groupStart{}, fmt.Errorf("group %q not found", group)
	}
	offs, err := shareGroupOffsets(ctx, adm, group)
	if err != nil {
		return groupStart{}, err
	}
	gs := groupStart{state: sd.GroupState, share: true, current: map[string]map[int32]int64{}}
	offs.Offsets.Each(func(o kadm.ShareOffset) {
		// -1: a share-partition without a start offset yet.
		if o.Err == nil && o.StartOffset >= 0 {
			addCurrent(gs.current, o.Topic, o.Partition, o.StartOffset)
		}
	})
	return gs, nil
}

func addCurrent(m map[string]map[int32]int64, topic string, p int32, at int64) {
	if m[topic] == nil {
		m[topic] = map[int32]int64{}
	}
	m[topic][p] = at
}

// resetPlan computes the new offsets of group's partitions of topic: the
// one plan of consumer and share groups, from their current offsets.
func (s *Server) resetPlan(ctx context.Context, group, topic, to, value string) (resetData, error) {
	d := resetData{Group: group, Topic: topic, To: to, Value: value}
	gs, err := loadGroupStart(ctx, sessionOf(ctx).adm, group)
	if err != nil {
		return d, err
	}
	d.State, d.Share = gs.state, gs.share
	for t := range gs.current {
		d.Topics = append(d.Topics, t)
	}
	slices.Sort(d.Topics)
	if topic == "" {
		return d, nil
	}
	var ids []int32
	current := gs.current[topic]
	for p := range current {
		ids = append(ids, p)
	}
	if len(ids) == 0 {
		return d, fmt.Errorf("group %q has no offsets for topic %q", group, topic)
	}
	slices.Sort(ids)
	starts, ends := s.listOffsets(ctx, topic, ids, -2), s.listOffsets(ctx, topic, ids, -1)
	var at map[int32]offsetResult
	var n int64
	switch to {
	case "earliest", "latest":
	case "offset":
		if n, err = strconv.ParseInt(value, 10, 64); err != nil || n < 0 {
			return d, fmt.Errorf("offset %q: want an offset", value)
		}
	case "timestamp":
		ms, err := parseTime(value)
		if err != nil {
			return d, err
		}
		at = s.listOffsets(ctx, topic, ids, ms)
	default:
		return d, fmt.Errorf("reset to %q: want earliest, latest, offset or timestamp", to)
	}
	d.Applicable = true
	for _, p := range ids {
		row := resetRow{Partition: p, Current: current[p], Start: starts[p].offset, End: ends[p].offset}
		if e := firstErr(starts[p].err, ends[p].err, at[p].err); e != nil {
			row.Err, row.New, d.Applicable = e.Error(), -1, false
		} else {
			switch to {
			case "earliest":
				row.New = row.Start
			case "latest":
				row.New = row.End
			case "offset":
				row.New = min(max(n, row.Start), row.End)
			case "timestamp":
				row.New = at[p].offset
				if row.New < 0 { // nothing at or after it: the end
					row.New = row.End
				}
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// resetPreview shows what a reset would do, with the form to apply it.
func (s *Server) resetPreview(w http.ResponseWriter, r *http.Request) {
	group := r.PathValue("group")
	q := r.URL.Query()
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := s.resetPlan(ctx, group, q.Get("topic"), q.Get("to"), strings.TrimSpace(q.Get("value")))
	if d.State == "" && err != nil {
		s.fail(w, r, http.StatusNotFound, group, err)
		return
	}
	p := page{Title: "Reset offsets of " + group, Nav: "groups", Data: &d}
	if err != nil {
		p.Error = err.Error()
		d.Applicable = false
	}
	if d.Applicable && d.State != "Empty" {
		p.Error = fmt.Sprintf("group %q is %s: stop its consumers first (only an Empty group is reset)", group, d.State)
		d.Applicable = false
	}
	if len(d.Rows) > s.cfg.PageSize {
		d.More, d.Rows = len(d.Rows)-s.cfg.PageSize, d.Rows[:s.cfg.PageSize]
	}
	s.render(w, r, "reset", p)
}

// resetApply commits the planned offsets (computed again at apply time).
func (s *Server) resetApply(w http.ResponseWriter, r *http.Request) {
	group := r.PathValue("group")
	if !s.checkForm(w, r) {
		return
	}
	f := r.PostForm
	back := "/groups/" + pathEscape(group)
	preview := back + "/reset?" + url.Values{"topic": {f.Get("topic")}, "to": {f.Get("to")}, "value": {f.Get("value")}}.Encode()
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := s.resetPlan(ctx, group, f.Get("topic"), f.Get("to"), strings.TrimSpace(f.Get("value")))
	if err == nil && !d.Applicable {
		err = errors.New("some partitions' offsets could not be listed")
	}
	if err == nil && d.State != "Empty" {
		err = fmt.Errorf("group is %s: only an Empty group is reset", d.State)
	}
	if err != nil {
		http.Redirect(w, r, preview+"&error="+url.QueryEscape(err.Error()), http.StatusSeeOther)
		return
	}
	offs := kadm.Offsets{}
	for _, row := range d.Rows {
		offs.AddOffset(d.Topic, row.Partition, row.New, -1)
	}
	adm := sessionOf(ctx).adm
	if d.Share {
		var resps kadm.AlterShareGroupOffsetsResponses
		if resps, err = adm.AlterShareGroupOffsets(ctx, group, offs); err == nil {
			err = resps.Error()
		}
	} else {
		var resps kadm.OffsetResponses
		if resps, err = adm.CommitOffsets(ctx, group, offs); err == nil {
			err = resps.Error()
		}
	}
	if err != nil {
		redirect(w, r, back, "reset: "+err.Error(), true)
		return
	}
	redirect(w, r, back, fmt.Sprintf("reset %d partitions of %s", len(d.Rows), d.Topic), false)
}
