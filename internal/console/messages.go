package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds of the message browser: a window is at most maxWindow records and
// maxWindowBytes of fetched batches, read for at most windowWait.
const (
	defaultWindow  = 50
	maxWindow      = 500
	maxWindowBytes = 8 << 20
	windowWait     = 3 * time.Second
)

// browse is one message browser request, parsed from the query string.
type browse struct {
	Partition int32
	Mode      string // latest, offset, timestamp
	Offset    int64
	Timestamp string // as typed: RFC 3339, datetime-local (UTC) or milliseconds
	Limit     int
	Filter    string
}

type header struct{ Key, Value string }

type message struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"timestamp"`
	Key       *string   `json:"key"`
	Value     *string   `json:"value"`
	KeyEnc    string    `json:"key_encoding,omitempty"`   // "base64" when not UTF-8
	ValueEnc  string    `json:"value_encoding,omitempty"` // "base64" when not UTF-8
	Headers   []header  `json:"headers,omitempty"`
	Pretty    string    `json:"-"` // the value as indented JSON, when it is JSON
}

type messagesData struct {
	Topic      string
	Partitions int
	B          browse
	From, To   int64 // the window read: offsets [From, To)
	Start, End int64 // the partition's log start and high watermark
	Messages   []message
	Read       int // records read in the window, before the filter
	Download   string
}

// MaxPartition is the highest partition number, for the form's bound.
func (d messagesData) MaxPartition() int { return max(d.Partitions-1, 0) }

func parseBrowse(r *http.Request) (browse, error) {
	q := r.URL.Query()
	b := browse{Mode: q.Get("mode"), Timestamp: strings.TrimSpace(q.Get("timestamp")), Filter: q.Get("q"), Limit: defaultWindow}
	if v := q.Get("partition"); v != "" {
		p, err := strconv.ParseInt(v, 10, 32)
		if err != nil || p < 0 {
			return b, fmt.Errorf("partition %q: want a partition number", v)
		}
		b.Partition = int32(p)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return b, fmt.Errorf("limit %q: want a positive number", v)
		}
		b.Limit = min(n, maxWindow)
	}
	switch b.Mode {
	case "", "latest":
		b.Mode = "latest"
	case "offset":
		n, err := strconv.ParseInt(q.Get("offset"), 10, 64)
		if err != nil || n < 0 {
			return b, fmt.Errorf("offset %q: want an offset", q.Get("offset"))
		}
		b.Offset = n
	case "timestamp":
		if _, err := parseTime(b.Timestamp); err != nil {
			return b, err
		}
	default:
		return b, fmt.Errorf("mode %q: want latest, offset or timestamp", b.Mode)
	}
	return b, nil
}

// parseTime reads RFC 3339, a datetime-local value (taken as UTC) or
// milliseconds since the epoch, as Kafka's tools take timestamps.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("timestamp %q: want RFC 3339, YYYY-MM-DDTHH:MM (UTC) or milliseconds", s)
}

// window resolves the request to offsets [from, to) below the high
// watermark and reads them, newest first, filtered.
func (s *Server) window(ctx context.Context, topic string, b browse) (messagesData, error) {
	d := messagesData{Topic: topic, B: b}
	md, err := sessionOf(ctx).adm.Metadata(ctx, topic)
	if err != nil {
		return d, err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		if ok && t.Err != nil && !isUnknownTopic(t.Err) {
			return d, t.Err
		}
		return d, fmt.Errorf("topic %q: %w", topic, errNoTopic)
	}
	d.Partitions = len(t.Partitions)
	if _, ok := t.Partitions[b.Partition]; !ok {
		return d, fmt.Errorf("topic %q has no partition %d", topic, b.Partition)
	}
	ps := []int32{b.Partition}
	start, end := s.listOffsets(ctx, topic, ps, -2)[b.Partition], s.listOffsets(ctx, topic, ps, -1)[b.Partition]
	if start.err != nil || end.err != nil {
		return d, fmt.Errorf("list offsets: %v", firstErr(start.err, end.err))
	}
	d.Start, d.End = start.offset, end.offset
	switch b.Mode {
	case "latest":
		d.From = max(d.Start, d.End-int64(b.Limit))
	case "offset":
		d.From = max(d.Start, b.Offset)
	case "timestamp":
		ms, _ := parseTime(b.Timestamp)
		at := s.listOffsets(ctx, topic, ps, ms)[b.Partition]
		if at.err != nil {
			return d, fmt.Errorf("list offsets at %d: %v", ms, at.err)
		}
		d.From = at.offset
		if d.From < 0 { // nothing at or after the timestamp
			d.From = d.End
		}
	}
	d.From = min(d.From, d.End)
	d.To = min(d.From+int64(b.Limit), d.End)
	recs, err := s.read(ctx, topic, b.Partition, d.From, d.To)
	if err != nil {
		return d, err
	}
	d.Read = len(recs)
	needle := strings.ToLower(b.Filter)
	for i := len(recs) - 1; i >= 0; i-- {
		if needle != "" && !matches(recs[i], needle) {
			continue
		}
		d.Messages = append(d.Messages, toMessage(recs[i]))
	}
	return d, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// read fetches offsets [from, to) of one partition with a client of its
// own, bounded in bytes and time. Offsets may be missing (compaction,
// transaction markers): reading stops at to, or when a fetch brings
// nothing more before windowWait.
func (s *Server) read(ctx context.Context, topic string, partition int32, from, to int64) ([]*kgo.Record, error) {
	if from >= to {
		return nil, nil
	}
	opts := append(sessionOf(ctx).connOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxBytes(maxWindowBytes), kgo.FetchMaxPartitionBytes(maxWindowBytes), kgo.FetchMaxWait(250*time.Millisecond))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, windowWait)
	defer cancel()
	var out []*kgo.Record
	var size int
	for size < maxWindowBytes {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break // what was read so far is the window
		}
		for _, e := range fs.Errors() {
			if e.Err != context.Canceled && e.Err != context.DeadlineExceeded {
				return nil, e.Err
			}
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= to {
				done = true
				return
			}
			out = append(out, r)
			size += len(r.Key) + len(r.Value)
			done = done || r.Offset == to-1
		})
		if done {
			break
		}
	}
	return out, nil
}

func matches(r *kgo.Record, needle string) bool {
	has := func(b []byte) bool { return bytes.Contains(bytes.ToLower(b), []byte(needle)) }
	if has(r.Key) || has(r.Value) {
		return true
	}
	for _, h := range r.Headers {
		if strings.Contains(strings.ToLower(h.Key), needle) || has(h.Value) {
			return true
		}
	}
	return false
}

func toMessage(r *kgo.Record) message {
	m := message{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp.UTC()}
	m.Key, m.KeyEnc = text(r.Key)
	m.Value, m.ValueEnc = text(r.Value)
	for _, h := range r.Headers {
		v, enc := text(h.Value)
		hv := ""
		if v != nil {
			hv = *v
			if enc != "" {
				hv = "base64:" + hv
			}
		}
		m.Headers = append(m.Headers, header{Key: h.Key, Value: hv})
	}
	if r.Value != nil && json.Valid(r.Value) {
		var buf bytes.Buffer
		if json.Indent(&buf, r.Value, "", "  ") == nil {
			m.Pretty = buf.String()
		}
	}
	return m
}

// text is b as a string, base64 when it is not UTF-8; nil for a null.
func text(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// messages is the message browser page.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	b, err := parseBrowse(r)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, topic, err)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := s.window(ctx, topic, b)
	if err != nil {
		s.fail(w, r, statusFor(err), topic, err)
		return
	}
	d.Download = "/topics/" + pathEscape(topic) + "/messages.jsonl?" + r.URL.RawQuery
	s.render(w, r, "messages", page{Title: topic + ": messages", Nav: "topics", Data: d})
}

// messagesJSONL downloads the same window as JSON lines, newest first.
func (s *Server) messagesJSONL(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	b, err := parseBrowse(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	d, err := s.window(ctx, topic, b)
	if err != nil {
		http.Error(w, err.Error(), statusFor(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%d-%d.jsonl"`,
		strings.Map(safeFileRune, topic), b.Partition, d.From))
	enc := json.NewEncoder(w)
	for _, m := range d.Messages {
		_ = enc.Encode(m)
	}
}

func safeFileRune(r rune) rune {
	if r == '.' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
		return r
	}
	return '_'
}

// statusFor is the HTTP status of a failed page: 403 when the broker's
// authorizer refused, 404 for what does not exist, else 502 (the broker
// did not answer as it should).
func statusFor(err error) int {
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed):
		return http.StatusForbidden
	case errors.Is(err, errNoTopic), errors.Is(err, kerr.UnknownTopicOrPartition), strings.Contains(err.Error(), "has no partition"):
		return http.StatusNotFound
	}
	return http.StatusBadGateway
}
