package integration

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
	metalog "github.com/sluice-io/sluice/internal/metadata"
)

// consumeFromStart reads topic from the start until n records arrived.
func consumeFromStart(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	var out []*kgo.Record
	ctx := testCtx(t, 30*time.Second)
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), n, topic, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// TestMetadataCorruptionRefusedAndRepaired: 16 flipped bytes inside the
// metadata WAL entry that created a topic holding acknowledged records,
// with more entries after it, make the broker refuse to start with the
// file and position; `sluice metadata inspect` marks the batch, `sluice
// metadata repair` rebuilds the log (adopting the topic back from its
// partition directories), and the topic is back with its id and every
// record.
func TestMetadataCorruptionRefusedAndRepaired(t *testing.T) {
	tb := startBroker(t)
	dir := tb.props["log.dirs"]
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "kept")
	id := createTopic(t, adm, topic, 3, nil).ID
	const n = 3000
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Key: []byte(strconv.Itoa(i % 7)), Value: []byte("value-" + strconv.Itoa(i))}
	}
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, rs...)
	cl.Close()
	var later []string
	for i := range 3 {
		later = append(later, topicName(t, fmt.Sprintf("later-%d", i)))
		createTopic(t, adm, later[i], 1, nil)
	}
	tb.Close()

	rep, err := metalog.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	var victim *metalog.LogBatch
	for i, b := range rep.Batches {
		for _, e := range b.Entries {
			for _, r := range e.Records {
				if tr, ok := r.(metalog.TopicRecord); ok && tr.Name == topic {
					victim = &rep.Batches[i]
				}
			}
		}
	}
	if victim == nil || victim == &rep.Batches[len(rep.Batches)-1] {
		t.Fatalf("no WAL batch in the middle of the log creates %s", topic)
	}
	segment := filepath.Join(metalog.Dir(dir), victim.Segment)
	data, err := os.ReadFile(segment)
	if err != nil {
		t.Fatal(err)
	}
	for i := victim.Position + victim.Size/2 - 8; i < victim.Position+victim.Size/2+8; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(segment, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// The broker refuses to start, naming the file, the position and the way out.
	cfg, err := config.Build(tb.props)
	if err != nil {
		t.Fatal(err)
	}
	err = broker.New(cfg, slog.New(slog.DiscardHandler)).Start()
	if !errors.Is(err, metalog.ErrDamaged) {
		t.Fatalf("start on a damaged metadata log: %v", err)
	}
	for _, want := range []string{segment, "position " + strconv.FormatInt(victim.Position, 10),
		"offset " + strconv.FormatInt(victim.BaseOffset, 10), "sluice metadata repair --log-dirs " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q lacks %q", err, want)
		}
	}
	if after, _ := os.ReadFile(segment); !bytes.Equal(after, data) {
		t.Fatal("the refused start changed the metadata log")
	}

	res := runCLI(t, nil, "metadata", "inspect", "--log-dirs", dir)
	first, last := victim.Entries[0].Index, victim.Entries[len(victim.Entries)-1].Index
	if res.code != 1 || !strings.Contains(res.stdout, fmt.Sprintf("position %d: DAMAGED, %d bytes (held entries %d-%d)", victim.Position, victim.Size, first, last)) {
		t.Fatalf("inspect: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, nil, "metadata", "repair", "--log-dirs", dir)
	if res.code != 0 || !strings.Contains(res.stdout, fmt.Sprintf("adopt topic %q", topic)) || !strings.Contains(res.stdout, "Kept the old log at") {
		t.Fatalf("repair: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	aside, _ := filepath.Glob(metalog.Dir(dir) + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("old logs kept: %v", aside)
	}
	if kept, _ := os.ReadFile(filepath.Join(aside[0], victim.Segment)); !bytes.Equal(kept, data) {
		t.Fatal("the old log was not kept as it was")
	}

	tb.start()
	adm = newAdmin(t, tb.Addr())
	if ok, parts, got := topicExists(t, adm, topic); !ok || parts != 3 || got != id {
		t.Fatalf("after repair: exists %v, %d partitions, id %v (want 3, %v)", ok, parts, got, id)
	}
	for _, name := range later {
		if ok, _, _ := topicExists(t, adm, name); !ok {
			t.Errorf("topic %s lost by the repair", name)
		}
	}
	seen := map[string]int{}
	for _, r := range consumeFromStart(t, tb.Addr(), topic, n) {
		seen[string(r.Value)]++
	}
	for i := range n {
		if v := "value-" + strconv.Itoa(i); seen[v] != 1 {
			t.Fatalf("record %s read %d times after the repair", v, seen[v])
		}
	}
}

// TestStrayPartitionDirMovedAside: a partition directory the metadata
// does not know is left alone at start (with a warning naming it) and,
// when a topic of its name is auto-created, moved aside with its data
// instead of being emptied; the new topic starts empty.
func TestStrayPartitionDirMovedAside(t *testing.T) {
	tb := startBroker(t, withProp("auto.create.topics.enable", "true"), withProp("num.partitions", "1"))
	dir := tb.props["log.dirs"]
	topic := topicName(t, "")
	oldID := createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil).ID
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	for i := range 50 {
		produceSync(t, cl, kgo.StringRecord("old-"+strconv.Itoa(i)))
	}
	cl.Close()
	tb.Close()
	partDir := filepath.Join(dir, topic+"-0")
	segment := "00000000000000000000.log"
	before, err := os.ReadFile(filepath.Join(partDir, segment))
	if err != nil || len(before) == 0 {
		t.Fatalf("segment of %s: %d bytes, %v", partDir, len(before), err)
	}
	// The metadata forgets the topic (its log is lost).
	if err := os.RemoveAll(metalog.Dir(dir)); err != nil {
		t.Fatal(err)
	}

	tb.start()
	if logs := tb.logs.tail(1 << 20); !strings.Contains(logs, "level=WARN msg=\"stray partition directory") || !strings.Contains(logs, partDir) {
		t.Fatalf("no warning naming %s:\n%s", partDir, logs)
	}
	if now, _ := os.ReadFile(filepath.Join(partDir, segment)); !bytes.Equal(now, before) {
		t.Fatal("the stray directory changed at start")
	}

	cl = newClient(t, tb.Addr(), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("new"))
	if ok, _, id := topicExists(t, newAdmin(t, tb.Addr()), topic); !ok || id == oldID {
		t.Fatalf("auto-created topic: exists %v, id %v (old id %v)", ok, id, oldID)
	}
	strays, _ := filepath.Glob(partDir + ".*" + metalog.StraySuffix)
	if len(strays) != 1 {
		t.Fatalf("stray directories %v, want one", strays)
	}
	if kept, _ := os.ReadFile(filepath.Join(strays[0], segment)); !bytes.Equal(kept, before) {
		t.Fatal("the stray's data was not kept")
	}
	if pinned, err := metalog.ReadPartitionTopicID(strays[0]); err != nil || pinned != metalog.UUID(oldID) {
		t.Fatalf("stray pinned to %v, %v; want %v", pinned, err, oldID)
	}
	if logs := tb.logs.tail(1 << 20); !strings.Contains(logs, "moved aside") || !strings.Contains(logs, strays[0]) {
		t.Fatalf("no warning naming where the stray went:\n%s", logs)
	}
	got := consumeFromStart(t, tb.Addr(), topic, 1)
	if len(got) != 1 || got[0].Offset != 0 || string(got[0].Value) != "new" {
		t.Fatalf("new topic holds %d records, first %q at %d", len(got), got[0].Value, got[0].Offset)
	}
}

// TestDeletedTopicDirRemovedAtStart: a topic deleted while its directory
// survived (the broker died between the delete record and the removal)
// has the directory removed at the next start, not kept as a stray; a
// topic recreated under the name starts empty.
func TestDeletedTopicDirRemovedAtStart(t *testing.T) {
	tb := startBroker(t)
	dir := tb.props["log.dirs"]
	topic := topicName(t, "")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("old"))
	cl.Close()
	tb.Close()
	partDir := filepath.Join(dir, topic+"-0")
	saved := filepath.Join(t.TempDir(), "saved")
	if err := os.CopyFS(saved, os.DirFS(partDir)); err != nil {
		t.Fatal(err)
	}

	tb.start()
	adm = newAdmin(t, tb.Addr())
	if rs, err := adm.DeleteTopics(testCtx(t, 15*time.Second), topic); err != nil || rs[topic].Err != nil {
		t.Fatalf("delete: %v %v", err, rs[topic].Err)
	}
	tb.Close()
	// As if the broker had died before removing the directory.
	if err := os.CopyFS(partDir, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}

	tb.start()
	if _, err := os.Stat(partDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the deleted topic's directory is still there: %v", err)
	}
	if left, _ := filepath.Glob(partDir + ".*"); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	for _, line := range strings.Split(tb.logs.tail(1<<20), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, partDir) {
			t.Fatalf("warned about the deleted topic's directory: %s", line)
		}
	}
	adm = newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, 1, nil)
	cl = newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("new"))
	if got := consumeFromStart(t, tb.Addr(), topic, 1); got[0].Offset != 0 || string(got[0].Value) != "new" {
		t.Fatalf("recreated topic starts with %q at %d", got[0].Value, got[0].Offset)
	}
}
