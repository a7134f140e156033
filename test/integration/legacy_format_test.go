package integration

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Old message formats (issue 20, item 1): Produce v0-2 carry message sets of
// magic 0 (v0-1) or 1 (v2), which Sluice converts to v2 batches on append
// as Kafka 3.9 does; Fetch v0-3 get the stored batches down-converted to
// magic 0 (v0-1) or 1 (v2-3). franz-go writes and reads these formats when
// its versions are capped at an old Kafka's.

// legacyClient is a franz-go client that speaks only the versions of an old
// Kafka: 0.9.0 (Produce v1, Fetch v1: magic 0) or 0.10.1 (Produce v2,
// Fetch v3: magic 1). Idempotence needs Produce v3.
func legacyClient(t *testing.T, addr string, v *kversion.Versions, opts ...kgo.Opt) *kgo.Client {
	return newClient(t, addr, append([]kgo.Opt{kgo.MaxVersions(v), kgo.DisableIdempotentWrite()}, opts...)...)
}

// consumeLegacy reads n records of topic from the start with a client built
// from opts.
func consumeLegacy(t *testing.T, addr, topic string, n int, cl func(opts ...kgo.Opt) *kgo.Client) []*kgo.Record {
	t.Helper()
	c := cl(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx := testCtx(t, 20*time.Second)
	var recs []*kgo.Record
	for len(recs) < n && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("consume %s: %v", topic, errs[0].Err)
		}
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != n {
		t.Fatalf("consumed %d records of %s, want %d", len(recs), topic, n)
	}
	return recs
}

// produceOneBatch produces rs in one request: the linger holds them until
// Flush sends them together.
func produceOneBatch(t *testing.T, p *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	errs := make(chan error, len(rs))
	for _, r := range rs {
		p.Produce(ctx, r, func(_ *kgo.Record, err error) { errs <- err })
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for range rs {
		if err := <-errs; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// TestLegacyProduceConverted: records produced as magic 0 and magic 1
// message sets, uncompressed and with every codec an old client has, are
// stored as one v2 batch per request with offsets assigned, keys, values
// and (magic 1) timestamps kept, magic 0's missing timestamp as -1, and the
// wrapper's codec kept (compression.type=producer); new and old consumers
// read them back.
func TestLegacyProduceConverted(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	cl := newClient(t, tb.Addr())
	const n = 5
	base := time.UnixMilli(1_700_000_000_000)
	for _, old := range []struct {
		name  string
		v     *kversion.Versions
		magic int8
	}{{"v0.9", kversion.V0_9_0(), 0}, {"v0.10.1", kversion.V0_10_1(), 1}} {
		for _, c := range []struct {
			name  string
			codec kgo.CompressionCodec
			id    int16
		}{{"none", kgo.NoCompression(), 0}, {"gzip", kgo.GzipCompression(), 1}, {"snappy", kgo.SnappyCompression(), 2}, {"lz4", kgo.Lz4Compression(), 3}} {
			t.Run(old.name+"-"+c.name, func(t *testing.T) {
				topic := topicName(t, "")
				createTopic(t, adm, topic, 1, nil)
				p := legacyClient(t, tb.Addr(), old.v, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(time.Minute))
				var rs []*kgo.Record
				for i := range n {
					rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("value %d %s", i, string(make([]byte, 200)))), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
				}
				produceOneBatch(t, p, rs...)

				bs := parseBatches(t, fetchPartition(t, cl, fetchReq(topic, topicID(t, cl, topic), 0, 0, 1<<20, 1<<20, 0, 0)).RecordBatches)
				if len(bs) != 1 {
					t.Fatalf("stored %d batches, want the one converted batch", len(bs))
				}
				b := bs[0]
				if b.Magic != 2 || b.NumRecords != n || b.FirstOffset != 0 || b.LastOffsetDelta != n-1 || b.ProducerID != -1 || b.Attributes&7 != c.id {
					t.Errorf("stored batch: magic %d, %d records, first offset %d, last delta %d, producer id %d, codec %d; want 2, %d, 0, %d, -1, %d",
						b.Magic, b.NumRecords, b.FirstOffset, b.LastOffsetDelta, b.ProducerID, b.Attributes&7, n, n-1, c.id)
				}
				wantMax := base.Add((n - 1) * time.Millisecond).UnixMilli()
				if old.magic == 0 {
					wantMax = -1
				}
				if b.MaxTimestamp != wantMax {
					t.Errorf("stored batch max timestamp %d, want %d", b.MaxTimestamp, wantMax)
				}

				check := func(who string, recs []*kgo.Record) {
					for i, r := range recs {
						wantTS := base.Add(time.Duration(i) * time.Millisecond).UnixMilli()
						if old.magic == 0 {
							wantTS = -1
						}
						if old.magic == 0 && who == "old consumer" {
							// franz-go gives v0 messages no timestamp.
							wantTS = r.Timestamp.UnixMilli()
						}
						if r.Offset != int64(i) || string(r.Key) != string(rs[i].Key) || string(r.Value) != string(rs[i].Value) || r.Timestamp.UnixMilli() != wantTS {
							t.Errorf("%s: record %d: offset %d key %q ts %d; want %d, %q, %d", who, i, r.Offset, r.Key, r.Timestamp.UnixMilli(), i, rs[i].Key, wantTS)
						}
					}
				}
				check("new consumer", consumeLegacy(t, tb.Addr(), topic, n, func(o ...kgo.Opt) *kgo.Client { return newClient(t, tb.Addr(), o...) }))
				if old.magic == 0 && c.id == 3 {
					// Kafka writes v0 lz4 with the pre-0.10 header
					// checksum, which franz-go's reader refuses (from
					// Kafka too); TestLegacyKcat reads it with librdkafka.
					return
				}
				check("old consumer", consumeLegacy(t, tb.Addr(), topic, n, func(o ...kgo.Opt) *kgo.Client { return legacyClient(t, tb.Addr(), old.v, o...) }))
			})
		}
	}
}

// TestLegacyProduceTopicConfigs: a converted batch follows the topic's
// compression.type and message.timestamp.type like any other, and old
// producers with acks=0 are not lost.
func TestLegacyProduceTopicConfigs(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	cl := newClient(t, tb.Addr())

	gz := topicName(t, "gzip")
	createTopic(t, adm, gz, 1, map[string]*string{"compression.type": kadm.StringPtr("gzip")})
	p := legacyClient(t, tb.Addr(), kversion.V0_10_1(), kgo.DefaultProduceTopic(gz), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	produceSync(t, p, kgo.StringRecord("to be gzipped"))
	if bs := parseBatches(t, fetchPartition(t, cl, fetchReq(gz, topicID(t, cl, gz), 0, 0, 1<<20, 1<<20, 0, 0)).RecordBatches); len(bs) != 1 || bs[0].Attributes&7 != 1 {
		t.Errorf("compression.type=gzip: stored %d batches (first attributes %#x), want one gzip batch", len(bs), attrsOf(bs))
	}

	lat := topicName(t, "lat")
	createTopic(t, adm, lat, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	p = legacyClient(t, tb.Addr(), kversion.V0_10_1(), kgo.DefaultProduceTopic(lat))
	before := time.Now().Add(-time.Second).UnixMilli()
	produceSync(t, p, &kgo.Record{Value: []byte("stamped"), Timestamp: time.UnixMilli(1000)})
	after := time.Now().Add(time.Second).UnixMilli()
	bs := parseBatches(t, fetchPartition(t, cl, fetchReq(lat, topicID(t, cl, lat), 0, 0, 1<<20, 1<<20, 0, 0)).RecordBatches)
	if len(bs) != 1 || bs[0].Attributes&0x08 == 0 || bs[0].MaxTimestamp < before || bs[0].MaxTimestamp > after {
		t.Errorf("LogAppendTime topic: stored %d batches (attributes %#x), want one stamped with the broker's clock", len(bs), attrsOf(bs))
	}
	// Magic 1 carries the timestamp type: the old consumer sees the
	// broker's time, marked LogAppendTime.
	for _, r := range consumeLegacy(t, tb.Addr(), lat, 1, func(o ...kgo.Opt) *kgo.Client { return legacyClient(t, tb.Addr(), kversion.V0_10_1(), o...) }) {
		if ts := r.Timestamp.UnixMilli(); ts < before || ts > after || r.Attrs.TimestampType() != 1 {
			t.Errorf("old consumer of a LogAppendTime topic: timestamp %d type %d, want %d..%d type 1", ts, r.Attrs.TimestampType(), before, after)
		}
	}

	acks0 := topicName(t, "acks0")
	createTopic(t, adm, acks0, 1, nil)
	for _, v := range []*kversion.Versions{kversion.V0_9_0(), kversion.V0_10_1()} {
		p := legacyClient(t, tb.Addr(), v, kgo.DefaultProduceTopic(acks0), kgo.RequiredAcks(kgo.NoAck()), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
		produceSync(t, p, kgo.StringRecord("fire"), kgo.StringRecord("and forget"))
	}
	waitFor(t, 10*time.Second, "acks=0 records of old producers", func() error {
		off, _, code := listOffset(t, cl, acks0, 0, tsLatest)
		if code != 0 || off != 4 {
			return fmt.Errorf("log end offset %d (error %v), want 4", off, kerr.ErrorForCode(code))
		}
		return nil
	})
}

func attrsOf(bs []kmsg.RecordBatch) int16 {
	if len(bs) == 0 {
		return -1
	}
	return bs[0].Attributes
}

// legacySet builds a message set by hand, for what no client sends.
func legacySet(magic int8, msgs ...legacyMsg) []byte {
	var out []byte
	for _, m := range msgs {
		out = appendLegacyMsg(out, magic, m)
	}
	return out
}

type legacyMsg struct {
	offset int64
	attrs  int8
	ts     int64
	key    []byte
	value  []byte
}

func appendLegacyMsg(dst []byte, magic int8, m legacyMsg) []byte {
	body := []byte{byte(magic), byte(m.attrs)}
	if magic == 1 {
		body = binary.BigEndian.AppendUint64(body, uint64(m.ts))
	}
	for _, b := range [][]byte{m.key, m.value} {
		if b == nil {
			body = binary.BigEndian.AppendUint32(body, 0xffffffff)
			continue
		}
		body = binary.BigEndian.AppendUint32(body, uint32(len(b)))
		body = append(body, b...)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+len(body)))
	dst = binary.BigEndian.AppendUint32(dst, crc32IEEE(body))
	return append(dst, body...)
}

// TestLegacyProduceInvalid: old message sets that Kafka refuses are
// refused with its error codes, and nothing of them is written; old
// magics in Produce v3+ stay refused.
func TestLegacyProduceInvalid(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("1000")})
	compacted := topicName(t, "compacted")
	createTopic(t, adm, compacted, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	cl := newClient(t, tb.Addr())
	rc := dialRaw(t, tb.Addr())
	corr := int32(0)

	good := legacySet(1, legacyMsg{ts: 5, key: []byte("k"), value: []byte("v")}, legacyMsg{offset: 1, ts: 6, value: []byte("w")})
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 1
	// Kafka converts an old set batch by batch; Sluice takes magic 0 and
	// 1 mixed but not a v2 batch after old messages (no client sends one).
	mixed := append(legacySet(0, legacyMsg{value: []byte("a")}), legacySet(1, legacyMsg{value: []byte("b")})...)
	withV2 := append(legacySet(1, legacyMsg{value: []byte("a")}), buildBatch(0, []rawRecord{{offsetDelta: 0, value: []byte("b")}})...)
	// A gzip wrapper whose inner messages are gzip wrappers themselves.
	nested := legacySet(1, legacyMsg{attrs: 1, value: gzipBytes(t, legacySet(1, legacyMsg{attrs: 1, value: gzipBytes(t, legacySet(1, legacyMsg{value: []byte("x")}))}))})
	innerMagic := legacySet(1, legacyMsg{attrs: 1, value: gzipBytes(t, legacySet(0, legacyMsg{value: []byte("x")}))})
	nullWrapper := legacySet(1, legacyMsg{attrs: 1})
	big := legacySet(1, legacyMsg{value: make([]byte, 1200)})

	cases := []struct {
		name    string
		topic   string
		version int16
		set     []byte
		want    int16
	}{
		{"message CRC damaged", topic, 2, badCRC, kerr.CorruptMessage.Code},
		{"truncated message", topic, 2, good[:len(good)-3], kerr.CorruptMessage.Code},
		{"v2 batch after a magic 1 message", topic, 2, withV2, kerr.InvalidRecord.Code},
		{"compressed inner message", topic, 2, nested, kerr.InvalidRecord.Code},
		{"inner magic differs from wrapper", topic, 2, innerMagic, kerr.InvalidRecord.Code},
		{"wrapper with a null value", topic, 2, nullWrapper, kerr.InvalidRecord.Code},
		{"message over max.message.bytes", topic, 2, big, kerr.MessageTooLarge.Code},
		{"keyless message on a compacted topic", compacted, 2, good, kerr.InvalidRecord.Code},
		{"magic 1 in Produce v3", topic, 3, good, kerr.InvalidRecord.Code},
	}
	for _, c := range cases {
		before, _, _ := listOffset(t, cl, c.topic, 0, tsLatest)
		corr++
		code, _ := rawProduceV(t, rc, corr, c.version, c.topic, c.set)
		if code != c.want {
			t.Errorf("%s: error %v, want %v", c.name, kerr.ErrorForCode(code), kerr.ErrorForCode(c.want))
		}
		if after, _, _ := listOffset(t, cl, c.topic, 0, tsLatest); after != before {
			t.Errorf("%s: log end offset %d after the refused set, want %d", c.name, after, before)
		}
	}
	corr++
	if code, base := rawProduceV(t, rc, corr, 2, topic, good); code != 0 || base != 0 {
		t.Errorf("good magic 1 set in Produce v2: error %v, base offset %d; want none, 0", kerr.ErrorForCode(code), base)
	}
	corr++
	if code, base := rawProduceV(t, rc, corr, 1, topic, mixed); code != 0 || base != 2 {
		t.Errorf("magic 0 and 1 mixed in Produce v1: error %v, base offset %d; want none, 2", kerr.ErrorForCode(code), base)
	}
}

// TestLegacyFetchDownConverted: Fetch v0-1 answer magic 0 and v2-3 magic 1
// message sets (control batches left out, headers dropped, records before
// the fetch offset inside a batch left out, codecs kept), v4+ the stored
// v2 batches; zstd cannot be down-converted and a zstd topic answers
// UNSUPPORTED_COMPRESSION_TYPE before Fetch v10; a topic with
// message.downconversion.enable=false answers Fetch v0-3 UNSUPPORTED_VERSION.
func TestLegacyFetchDownConverted(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	base := time.UnixMilli(1_700_000_000_000)
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.Lz4Compression()} {
		p := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(time.Minute))
		var rs []*kgo.Record
		for i := range 3 {
			rs = append(rs, &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("dropped")}}})
		}
		produceOneBatch(t, p, rs...)
	}
	// A committed transaction adds a control batch at offset 7.
	txp := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topicName(t, "tx")))
	ctx := testCtx(t, 20*time.Second)
	if err := txp.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txp.ProduceSync(ctx, &kgo.Record{Value: []byte("v-txn"), Timestamp: base}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txp.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	cl := newClient(t, tb.Addr())
	rc := dialRaw(t, tb.Addr())
	for version := int16(0); version <= 4; version++ {
		req := fetchReq(topic, [16]byte{}, 0, 1, 1<<20, 1<<20, 0, 0)
		req.SetVersion(version)
		fp := rc.roundTrip(int32(100+version), req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if fp.ErrorCode != 0 {
			t.Fatalf("Fetch v%d: %v", version, kerr.ErrorForCode(fp.ErrorCode))
		}
		if version == 4 {
			if bs := parseBatches(t, fp.RecordBatches); len(bs) != 4 || bs[0].Magic != 2 {
				t.Errorf("Fetch v4: %d batches, want the 4 stored v2 batches (3 of records, 1 control)", len(bs))
			}
			continue
		}
		wantMagic := int8(0)
		if version >= 2 {
			wantMagic = 1
		}
		got := readLegacySet(t, fp.RecordBatches, wantMagic)
		wantOffsets := []int64{1, 2, 3, 4, 5, 6}
		if len(got) != len(wantOffsets) {
			t.Fatalf("Fetch v%d: %d messages %+v, want offsets %v", version, len(got), got, wantOffsets)
		}
		for i, m := range got {
			wantValue := fmt.Sprintf("v%d", (wantOffsets[i])%3)
			if wantOffsets[i] == 6 {
				wantValue = "v-txn"
			}
			wantTS := base.Add(time.Duration(wantOffsets[i]%3) * time.Millisecond).UnixMilli()
			if wantOffsets[i] == 6 {
				wantTS = base.UnixMilli()
			}
			if wantMagic == 0 {
				wantTS = -1
			}
			if m.offset != wantOffsets[i] || string(m.value) != wantValue || m.ts != wantTS {
				t.Errorf("Fetch v%d message %d: offset %d value %q ts %d; want %d, %q, %d", version, i, m.offset, m.value, m.ts, wantOffsets[i], wantValue, wantTS)
			}
		}
	}

	// message.downconversion.enable=false: old fetchers are refused.
	noDown := topicName(t, "nodown")
	createTopic(t, adm, noDown, 1, map[string]*string{"message.downconversion.enable": kadm.StringPtr("false")})
	produceSync(t, cl, &kgo.Record{Topic: noDown, Value: []byte("new only")})
	for _, version := range []int16{1, 3, 4} {
		req := fetchReq(noDown, [16]byte{}, 0, 0, 1<<20, 1<<20, 0, 0)
		req.SetVersion(version)
		fp := rc.roundTrip(int32(150+version), req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		want := kerr.UnsupportedVersion.Code
		if version == 4 {
			want = 0
		}
		if fp.ErrorCode != want || (want == 0 && len(fp.RecordBatches) == 0) {
			t.Errorf("message.downconversion.enable=false, Fetch v%d: error %v with %d record bytes, want %v", version, kerr.ErrorForCode(fp.ErrorCode), len(fp.RecordBatches), kerr.ErrorForCode(want))
		}
	}

	// zstd: stored batches of a producer-compressed topic cannot be
	// converted; a zstd topic is refused before Fetch v10.
	for _, zt := range []struct {
		name string
		cfg  map[string]*string
	}{{"zstd-batches", nil}, {"zstd-topic", map[string]*string{"compression.type": kadm.StringPtr("zstd")}}} {
		z := topicName(t, zt.name)
		createTopic(t, adm, z, 1, zt.cfg)
		zp := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(z), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
		produceSync(t, zp, kgo.StringRecord(strings.Repeat("zstd ", 100)))
		for _, version := range []int16{3, 9, 10} {
			req := fetchReq(z, topicID(t, cl, z), 0, 0, 1<<20, 1<<20, 0, 0)
			req.SetVersion(version)
			fp := rc.roundTrip(int32(200+version), req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
			want := kerr.UnsupportedCompressionType.Code
			if version == 10 || (zt.cfg == nil && version == 9) {
				want = 0
			}
			if fp.ErrorCode != want {
				t.Errorf("%s, Fetch v%d: error %v, want %v", zt.name, version, kerr.ErrorForCode(fp.ErrorCode), kerr.ErrorForCode(want))
			}
		}
	}
}

// readLegacySet decodes a fetched message set of magic, opening compressed
// wrappers, into absolute offsets.
func readLegacySet(t *testing.T, b []byte, magic int8) []legacyMsg {
	t.Helper()
	var out []legacyMsg
	for len(b) >= 17 {
		size := int(int32(binary.BigEndian.Uint32(b[8:])))
		if 12+size > len(b) {
			break
		}
		entry := b[:12+size]
		b = b[12+size:]
		if entry[16] != byte(magic) {
			t.Fatalf("message of magic %d, want %d", entry[16], magic)
		}
		var m legacyMsg
		if magic == 0 {
			var v kmsg.MessageV0
			if err := v.ReadFrom(entry); err != nil {
				t.Fatalf("decode v0 message: %v", err)
			}
			if uint32(v.CRC) != crc32IEEE(entry[16:]) {
				t.Fatalf("v0 message CRC mismatch")
			}
			m = legacyMsg{offset: v.Offset, attrs: v.Attributes, ts: -1, key: v.Key, value: v.Value}
		} else {
			var v kmsg.MessageV1
			if err := v.ReadFrom(entry); err != nil {
				t.Fatalf("decode v1 message: %v", err)
			}
			if uint32(v.CRC) != crc32IEEE(entry[16:]) {
				t.Fatalf("v1 message CRC mismatch")
			}
			m = legacyMsg{offset: v.Offset, attrs: v.Attributes, ts: v.Timestamp, key: v.Key, value: v.Value}
		}
		if m.attrs&7 == 0 {
			out = append(out, m)
			continue
		}
		inner := readLegacySet(t, decompressLegacy(t, int(m.attrs&7), magic, m.value), magic)
		for i := range inner {
			if magic == 1 {
				// v1 inner offsets are relative; the wrapper has the last.
				inner[i].offset += m.offset - inner[len(inner)-1].offset
			}
		}
		out = append(out, inner...)
	}
	return out
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decompressLegacy opens a wrapper's value. lz4 in a v0 message carries
// the header checksum Kafka wrote before 0.10 (over the frame's magic
// number too), which a standard reader refuses: the test checks it is not
// the standard one and decodes with the standard one put back.
func decompressLegacy(t *testing.T, codec int, magic int8, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch codec {
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case 2:
		out, err := snappy.Decode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case 3:
		if magic == 0 {
			b = standardLZ4HC(t, b)
		}
		r = lz4.NewReader(bytes.NewReader(b))
	default:
		t.Fatalf("codec %d in an old message", codec)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompress codec %d: %v", codec, err)
	}
	return out
}

// standardLZ4HC finds the header checksum a standard lz4 reader accepts
// for frame (no content size or dictionary id: HC is byte 6), failing if
// frame already has it.
func standardLZ4HC(t *testing.T, frame []byte) []byte {
	t.Helper()
	try := func(f []byte) bool {
		_, err := io.ReadAll(lz4.NewReader(bytes.NewReader(f)))
		return err == nil
	}
	if try(frame) {
		t.Fatalf("v0 lz4 frame has the standard header checksum, want Kafka's pre-0.10 one")
	}
	f := append([]byte(nil), frame...)
	for hc := range 256 {
		f[6] = byte(hc)
		if try(f) {
			return f
		}
	}
	t.Fatalf("no header checksum makes the v0 lz4 frame readable")
	return nil
}

// TestLegacyKcat: librdkafka told it talks to Kafka 0.9 (Produce v1 and
// Fetch v1: magic 0, lz4 with the pre-0.10 header checksum) or 0.10.0
// (Produce v2 and Fetch v2: magic 1) produces compressed messages and reads
// them back, and a modern client reads the converted batches. Skipped when
// kcat is not installed.
func TestLegacyKcat(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed")
	}
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	for _, fallback := range []string{"0.9.0.1", "0.10.0.1"} {
		for _, codec := range []string{"none", "gzip", "snappy", "lz4"} {
			topic := topicName(t, fallback+"-"+codec)
			createTopic(t, adm, topic, 1, nil)
			old := []string{"-b", tb.Addr(), "-t", topic, "-p", "0", "-X", "api.version.request=false", "-X", "broker.version.fallback=" + fallback}
			values := []string{"first " + strings.Repeat("a", 100), "second " + strings.Repeat("b", 100), "third " + strings.Repeat("c", 100)}
			ctx := testCtx(t, 60*time.Second)
			prod := exec.CommandContext(ctx, "kcat", append(old, "-P", "-z", codec, "-X", "linger.ms=100")...)
			prod.Stdin = strings.NewReader(strings.Join(values, "\n") + "\n")
			if out, err := prod.CombinedOutput(); err != nil {
				t.Fatalf("%s %s: kcat -P: %v\n%s", fallback, codec, err, out)
			}
			cons := exec.CommandContext(ctx, "kcat", append(old, "-C", "-o", "beginning", "-e", "-q", "-f", "%o %s\n")...)
			out, err := cons.Output()
			if err != nil {
				stderr := ""
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("%s %s: kcat -C: %v\n%s", fallback, codec, err, stderr)
			}
			var want []string
			for i, v := range values {
				want = append(want, fmt.Sprintf("%d %s", i, v))
			}
			if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
				t.Errorf("%s %s: kcat read back\n%s\nwant\n%s", fallback, codec, got, strings.Join(want, "\n"))
			}
			recs := consumeLegacy(t, tb.Addr(), topic, len(values), func(o ...kgo.Opt) *kgo.Client { return newClient(t, tb.Addr(), o...) })
			for i, r := range recs {
				if string(r.Value) != values[i] || r.Offset != int64(i) {
					t.Errorf("%s %s: modern consumer record %d: offset %d value %q", fallback, codec, i, r.Offset, r.Value)
				}
			}
		}
	}
}

// TestProduceAcks0Refused: an acks=0 produce the broker refuses closes the
// connection, as Kafka does, so the producer learns its records were lost
// (before, refused old message sets vanished without a trace); an accepted
// one leaves the connection open.
func TestProduceAcks0Refused(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr())

	good := legacySet(1, legacyMsg{ts: 5, value: []byte("kept")})
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1 // CRC no longer matches

	rc := dialRaw(t, tb.Addr())
	req := produceRequest(2, topic, good, 10000)
	req.Acks = 0
	rc.send(1, req)
	// The connection still answers: ApiVersions after the acks=0 produce.
	if resp := rc.roundTrip(2, apiVersionsReq()).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions after an accepted acks=0 produce: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	waitFor(t, 10*time.Second, "the acks=0 record", func() error {
		if off, _, _ := listOffset(t, cl, topic, 0, tsLatest); off != 1 {
			return fmt.Errorf("log end offset %d, want 1", off)
		}
		return nil
	})
	req = produceRequest(2, topic, bad, 10000)
	req.Acks = 0
	rc.send(3, req)
	rc.expectClosed("acks=0 produce of a corrupt message set")
}
