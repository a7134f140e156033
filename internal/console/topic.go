package console

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func pathEscape(s string) string { return url.PathEscape(s) }

type partitionRow struct {
	Partition              int32
	Leader                 int32
	Replicas, ISR, Offline []int32
	Start, End             int64 // -1: unknown
	Err                    string
}

type configRow struct {
	Key, Value, Source string
	Sensitive          bool
}

type topicData struct {
	Name       string
	ID         string
	Internal   bool
	Partitions []partitionRow
	Count      int
	Pager      pager
	Configs    []configRow
	ConfigErr  string
	Rate       topicRate
}

// topic is one topic: a page of its partitions with their start and end
// offsets (ListOffsets for that page only) and its configs with sources.
func (s *Server) topic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	ctx, cancel := s.ctx(r)
	defer cancel()
	t, ids, ok := s.topicPartitions(ctx, w, r, name, statusFor)
	if !ok {
		return
	}
	pg := paginate(r, len(ids), s.cfg.PageSize)
	ids = ids[pg.From:pg.To]
	starts := s.listOffsets(ctx, name, ids, -2)
	ends := s.listOffsets(ctx, name, ids, -1)
	d := topicData{Name: name, ID: base64.RawURLEncoding.EncodeToString(t.ID[:]), Internal: t.IsInternal, Count: len(t.Partitions), Pager: pg,
		Rate: s.topicRates.viewTopics(sessionOf(ctx), name)[name]}
	for _, id := range ids {
		p := t.Partitions[id]
		row := partitionRow{Partition: id, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR, Offline: p.OfflineReplicas,
			Start: starts[id].offset, End: ends[id].offset}
		if p.Err != nil {
			row.Err = p.Err.Error()
		} else if e := starts[id].err; e != nil {
			row.Err = e.Error()
		}
		d.Partitions = append(d.Partitions, row)
	}
	rcs, err := sessionOf(ctx).adm.DescribeTopicConfigs(ctx, name)
	if err == nil && len(rcs) == 1 && rcs[0].Err != nil {
		err = rcs[0].Err
	}
	if err != nil {
		d.ConfigErr = err.Error()
	} else {
		for _, c := range rcs[0].Configs {
			row := configRow{Key: c.Key, Source: sourceName(c.Source), Sensitive: c.Sensitive}
			if c.Value != nil {
				row.Value = *c.Value
			}
			d.Configs = append(d.Configs, row)
		}
		slices.SortFunc(d.Configs, func(a, b configRow) int { return strings.Compare(a.Key, b.Key) })
	}
	s.render(w, r, "topic", page{Title: name, Nav: "topics", Data: d})
}

func isUnknownTopic(err error) bool { return err == kerr.UnknownTopicOrPartition }

// sourceName is Kafka's name of a config's source, as kafka-configs shows.
func sourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDefaultConfig:
		return "DEFAULT_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	}
	return s.String()
}

type offsetResult struct {
	offset    int64 // -1 when unknown
	timestamp int64
	err       error
}

// listOffsets asks the partitions' leaders (kgo shards the request) for
// the offset at ts: -2 earliest, -1 latest, else the first offset with a
// timestamp ≥ ts. Only the partitions given: a page, never a whole topic.
func (s *Server) listOffsets(ctx context.Context, topic string, partitions []int32, ts int64) map[int32]offsetResult {
	return s.listTopicsOffsets(ctx, map[string][]int32{topic: partitions}, ts)[topic]
}

// listTopicsOffsets is listOffsets for several topics in one request,
// which kgo splits into one request per leader broker.
func (s *Server) listTopicsOffsets(ctx context.Context, topics map[string][]int32, ts int64) map[string]map[int32]offsetResult {
	out := make(map[string]map[int32]offsetResult, len(topics))
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	for topic, partitions := range topics {
		out[topic] = make(map[int32]offsetResult, len(partitions))
		if len(partitions) == 0 {
			continue
		}
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range partitions {
			out[topic][p] = offsetResult{offset: -1}
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.CurrentLeaderEpoch = -1
			rp.Timestamp = ts
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(req.Topics) == 0 {
		return out
	}
	resp, err := req.RequestWith(ctx, sessionOf(ctx).kcl)
	if err != nil {
		for topic, ps := range out {
			for p := range ps {
				ps[p] = offsetResult{offset: -1, err: err}
			}
			out[topic] = ps
		}
		return out
	}
	for _, t := range resp.Topics {
		ps := out[t.Topic]
		if ps == nil {
			continue
		}
		for _, p := range t.Partitions {
			res := offsetResult{offset: p.Offset, timestamp: p.Timestamp}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				res = offsetResult{offset: -1, err: err}
			}
			ps[p.Partition] = res
		}
	}
	return out
}

// alterConfig sets or deletes one topic config (IncrementalAlterConfigs).
func (s *Server) alterConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	back := "/topics/" + pathEscape(name)
	if !s.checkForm(w, r) {
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		redirect(w, r, back, "config: choose a key", true)
		return
	}
	ac := kadm.AlterConfig{Op: kadm.SetConfig, Name: key}
	if r.PostForm.Get("op") == "delete" {
		ac.Op = kadm.DeleteConfig
	} else {
		v := r.PostForm.Get("value")
		ac.Value = &v
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	resps, err := sessionOf(ctx).adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{ac}, name)
	if err == nil {
		for _, rsp := range resps {
			if rsp.Err != nil {
				err = fmt.Errorf("%s", errText(rsp.Err, rsp.ErrMessage))
			}
		}
	}
	if err != nil {
		redirect(w, r, back, "config "+key+": "+err.Error(), true)
		return
	}
	if ac.Op == kadm.DeleteConfig {
		redirect(w, r, back, "reverted "+key+" to its default", false)
		return
	}
	redirect(w, r, back, "set "+key+"="+*ac.Value, false)
}

// addPartitions raises the topic's partition count (CreatePartitions).
func (s *Server) addPartitions(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	back := "/topics/" + pathEscape(name)
	if !s.checkForm(w, r) {
		return
	}
	n, err := strconv.Atoi(r.PostForm.Get("add"))
	if err != nil || n <= 0 {
		redirect(w, r, back, "add partitions: give a positive number", true)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	resps, err := sessionOf(ctx).adm.CreatePartitions(ctx, n, name)
	if err == nil {
		if rsp, ok := resps[name]; ok && rsp.Err != nil {
			err = fmt.Errorf("%s", errText(rsp.Err, rsp.ErrMessage))
		}
	}
	if err != nil {
		redirect(w, r, back, "add partitions: "+err.Error(), true)
		return
	}
	redirect(w, r, back, fmt.Sprintf("added %d partitions", n), false)
}

// deleteTopic deletes the topic (DeleteTopics) once its name is typed
// again as confirmation.
func (s *Server) deleteTopic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	if !s.checkForm(w, r) {
		return
	}
	if r.PostForm.Get("confirm") != name {
		redirect(w, r, "/topics/"+pathEscape(name), "delete: type the topic's name to confirm", true)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	resp, err := sessionOf(ctx).adm.DeleteTopic(ctx, name)
	if err != nil {
		redirect(w, r, "/topics/"+pathEscape(name), "delete: "+errText(err, resp.ErrMessage), true)
		return
	}
	redirect(w, r, "/topics", "deleted "+name, false)
}

// topicPartitions reads one topic's metadata and its partition ids in
// order, or answers the request itself (404 for an unknown topic, status's
// code for another error) and reports false.
func (s *Server) topicPartitions(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, status func(error) int) (kadm.TopicDetail, []int32, bool) {
	md, err := sessionOf(ctx).adm.Metadata(ctx, name)
	if err != nil {
		s.fail(w, r, status(err), name, err)
		return kadm.TopicDetail{}, nil, false
	}
	t, ok := md.Topics[name]
	if !ok || t.Err != nil {
		if ok && t.Err != nil && !isUnknownTopic(t.Err) {
			s.fail(w, r, status(t.Err), name, t.Err)
			return kadm.TopicDetail{}, nil, false
		}
		s.fail(w, r, http.StatusNotFound, name, fmt.Errorf("topic %q: %w", name, errNoTopic))
		return kadm.TopicDetail{}, nil, false
	}
	ids := make([]int32, 0, len(t.Partitions))
	for id := range t.Partitions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return t, ids, true
}
