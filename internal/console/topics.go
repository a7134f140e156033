package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

type topicRow struct {
	Name            string
	Internal        bool
	Partitions      int
	Replicas        int
	UnderReplicated int
	Size            int64
	SizeKnown       bool
	Rate            topicRate
}

type topicsData struct {
	Query string
	Rows  []topicRow
	Pager pager
}

// topics lists topics by name, filtered by the search text, one page at a
// time; sizes are asked (DescribeLogDirs) only for the page's topics, and
// only they are watched by the rate sampler (topicrates.go).
func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	md, err := sessionOf(ctx).adm.Metadata(ctx)
	if err != nil {
		s.fail(w, r, statusFor(err), "Topics", err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	names := make([]string, 0, len(md.Topics))
	for name := range md.Topics {
		if q == "" || strings.Contains(strings.ToLower(name), strings.ToLower(q)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	pg := paginate(r, len(names), s.cfg.PageSize)
	names = names[pg.From:pg.To]
	rows := make([]topicRow, len(names))
	set := kadm.TopicsSet{}
	for i, name := range names {
		t := md.Topics[name]
		row := topicRow{Name: name, Internal: t.IsInternal, Partitions: len(t.Partitions)}
		for _, p := range t.Partitions {
			row.Replicas = max(row.Replicas, len(p.Replicas))
			if len(p.ISR) < len(p.Replicas) {
				row.UnderReplicated++
			}
			set.Add(name, p.Partition)
		}
		rows[i] = row
	}
	if len(names) > 0 {
		sizes := s.topicSizes(ctx, set)
		rates := s.topicRates.viewTopics(sessionOf(ctx), names...)
		for i := range rows {
			rows[i].Size, rows[i].SizeKnown = sizes[rows[i].Name]
			rows[i].Rate = rates[rows[i].Name]
		}
	}
	s.render(w, r, "topics", page{Title: "Topics", Nav: "topics", Data: topicsData{Query: q, Rows: rows, Pager: pg}})
}

// topicSizes is each topic's size on disk counting one replica of each
// partition (its largest); missing when the brokers could not say.
func (s *Server) topicSizes(ctx context.Context, set kadm.TopicsSet) map[string]int64 {
	dirs, err := sessionOf(ctx).adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		return nil
	}
	largest := map[string]map[int32]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.IsFuture {
				return
			}
			if largest[p.Topic] == nil {
				largest[p.Topic] = map[int32]int64{}
			}
			largest[p.Topic][p.Partition] = max(largest[p.Topic][p.Partition], p.Size)
		})
	})
	out := map[string]int64{}
	for t, ps := range largest {
		for _, n := range ps {
			out[t] += n
		}
	}
	return out
}

// createTopic creates a topic (CreateTopics) from the topics page form.
func (s *Server) createTopic(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	parts, err1 := strconv.ParseInt(r.PostForm.Get("partitions"), 10, 32)
	rf, err2 := strconv.ParseInt(r.PostForm.Get("replication_factor"), 10, 16)
	if name == "" || err1 != nil || err2 != nil {
		redirect(w, r, "/topics", "create: give a name, a partition count and a replication factor (-1: the broker's defaults)", true)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	resp, err := sessionOf(ctx).adm.CreateTopic(ctx, int32(parts), int16(rf), nil, name)
	if err != nil {
		redirect(w, r, "/topics", "create "+name+": "+errText(err, resp.ErrMessage), true)
		return
	}
	redirect(w, r, "/topics/"+pathEscape(name), "created "+name, false)
}

// errText is err with the broker's message when it sent one.
func errText(err error, msg string) string {
	if msg != "" && !strings.Contains(err.Error(), msg) {
		return err.Error() + ": " + msg
	}
	return err.Error()
}

var errNoTopic = errors.New("no such topic")
