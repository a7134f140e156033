package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// topicDef describes one Kafka topic config (Kafka's TopicConfig/LogConfig).
// Its default comes from the broker property brokerKey when there is one
// (so a broker-level setting changes every topic's default), else def.
type topicDef struct {
	name      string
	typ       int8
	brokerKey string
	def       string
	check     checkFn
	doc       string
}

var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

// topicDefs is every topic config name a Kafka client may send, in
// alphabetical order. A few (message.format.version,
// message.downconversion.enable, message.timestamp.difference.max.ms) were
// removed in Kafka 4.0 but are still accepted so older tools keep working.
var topicDefs = []topicDef{
	{"cleanup.policy", TypeList, "log.cleanup.policy", "delete", listOf("compact", "delete"), "delete, compact, or compact,delete."},
	{"compression.gzip.level", TypeInt, "compression.gzip.level", "-1", betweenOr(1, 9, -1), "gzip level when compression.type=gzip."},
	{"compression.lz4.level", TypeInt, "compression.lz4.level", "9", between(1, 17), "lz4 level when compression.type=lz4."},
	{"compression.type", TypeString, "compression.type", "producer", oneOf(compressionTypes...), "Compression of stored batches; producer keeps the producer's codec."},
	{"compression.zstd.level", TypeInt, "compression.zstd.level", "3", between(-131072, 22), "zstd level when compression.type=zstd."},
	{"delete.retention.ms", TypeLong, "log.cleaner.delete.retention.ms", "86400000", atLeast(0), "How long delete tombstones are kept on compacted topics."},
	{"file.delete.delay.ms", TypeLong, "log.segment.delete.delay.ms", "60000", atLeast(0), "Delay before a deleted segment file is removed."},
	{"flush.messages", TypeLong, "log.flush.interval.messages", "1", atLeast(1), "Messages appended before the log is fsynced."},
	{"flush.ms", TypeLong, "log.flush.interval.ms", maxLong, atLeast(0), "Maximum time data stays unsynced."},
	{"follower.replication.throttled.replicas", TypeList, "", "", throttledReplicas, "Replicas throttled on the follower side."},
	{"index.interval.bytes", TypeInt, "log.index.interval.bytes", "4096", atLeast(0), "Bytes between offset index entries."},
	{"leader.replication.throttled.replicas", TypeList, "", "", throttledReplicas, "Replicas throttled on the leader side."},
	{"local.retention.bytes", TypeLong, "log.local.retention.bytes", "-2", atLeast(-2), "Local retention size with tiered storage."},
	{"local.retention.ms", TypeLong, "log.local.retention.ms", "-2", atLeast(-2), "Local retention time with tiered storage."},
	{"max.compaction.lag.ms", TypeLong, "log.cleaner.max.compaction.lag.ms", maxLong, atLeast(1), "Maximum time a record stays ineligible for compaction."},
	{"max.message.bytes", TypeInt, "message.max.bytes", "1048588", atLeast(0), "Largest record batch size allowed."},
	{"message.downconversion.enable", TypeBoolean, "log.message.downconversion.enable", "true", nil, "Deprecated: down-convert for old fetchers."},
	{"message.format.version", TypeString, "", "3.0-IV1", nil, "Deprecated: ignored."},
	{"message.timestamp.after.max.ms", TypeLong, "log.message.timestamp.after.max.ms", "3600000", atLeast(0), "Largest allowed lead of a record timestamp over broker time."},
	{"message.timestamp.before.max.ms", TypeLong, "log.message.timestamp.before.max.ms", maxLong, atLeast(0), "Largest allowed age of a record timestamp."},
	{"message.timestamp.difference.max.ms", TypeLong, "log.message.timestamp.difference.max.ms", maxLong, atLeast(0), "Deprecated: largest allowed timestamp difference."},
	{"message.timestamp.type", TypeString, "log.message.timestamp.type", "CreateTime", oneOf("CreateTime", "LogAppendTime"), "CreateTime or LogAppendTime."},
	{"min.cleanable.dirty.ratio", TypeDouble, "log.cleaner.min.cleanable.ratio", "0.5", ratio, "Minimum dirty ratio before compaction."},
	{"min.compaction.lag.ms", TypeLong, "log.cleaner.min.compaction.lag.ms", "0", atLeast(0), "Minimum time a record stays uncompacted."},
	{"min.insync.replicas", TypeInt, "min.insync.replicas", "1", atLeast(1), "Minimum in-sync replicas for acks=all."},
	{"preallocate", TypeBoolean, "log.preallocate", "false", nil, "Preallocate segment files."},
	{"remote.log.copy.disable", TypeBoolean, "", "false", nil, "Stop copying segments to remote storage."},
	{"remote.log.delete.on.disable", TypeBoolean, "", "false", nil, "Delete remote data when tiering is disabled."},
	{"remote.storage.enable", TypeBoolean, "", "false", nil, "Tiered storage (not supported by Sluice; accepted and ignored)."},
	{"retention.bytes", TypeLong, "log.retention.bytes", "-1", nil, "Maximum partition size before old segments are deleted (-1: unlimited)."},
	{"retention.ms", TypeLong, "log.retention.ms", "604800000", atLeast(-1), "How long to keep data (-1: forever)."},
	{"segment.bytes", TypeInt, "log.segment.bytes", "1073741824", atLeast(14), "Maximum size of one segment file."},
	{"segment.index.bytes", TypeInt, "log.index.size.max.bytes", "10485760", atLeast(4), "Maximum size of an offset index file."},
	{"segment.jitter.ms", TypeLong, "log.roll.jitter.ms", "0", atLeast(0), "Maximum jitter subtracted from segment.ms."},
	{"segment.ms", TypeLong, "log.roll.ms", "604800000", atLeast(1), "Maximum age of the active segment before rolling."},
	{"unclean.leader.election.enable", TypeBoolean, "unclean.leader.election.enable", "false", nil, "Allow out-of-sync replicas to become leader."},
}

var topicDefsByName = func() map[string]*topicDef {
	m := make(map[string]*topicDef, len(topicDefs))
	for i := range topicDefs {
		m[topicDefs[i].name] = &topicDefs[i]
	}
	return m
}()

// TopicConfigNames returns every known topic config name, sorted.
func TopicConfigNames() []string {
	out := make([]string, len(topicDefs))
	for i, d := range topicDefs {
		out[i] = d.name
	}
	sort.Strings(out)
	return out
}

// IsListTopicConfig reports whether name is a LIST-typed topic config (the
// only kind IncrementalAlterConfigs APPEND/SUBTRACT apply to).
func IsListTopicConfig(name string) bool {
	d, ok := topicDefsByName[name]
	return ok && d.typ == TypeList
}

// ValidateTopicConfig checks one topic config override. A nil value (a
// deletion) is valid for any known name. Errors are *Error wrapping
// ErrUnknownConfig or ErrInvalidValue.
func ValidateTopicConfig(name string, value *string) error {
	d, ok := topicDefsByName[name]
	if !ok {
		return &Error{Kind: ErrUnknownConfig, Msg: "Unknown topic config name: " + name}
	}
	if value == nil {
		return nil
	}
	return parseTyped(name, strings.TrimSpace(*value), d.typ, d.check)
}

// Topic is the resolved configuration of one topic: overrides over broker
// defaults over Kafka defaults.
type Topic struct {
	RetentionMs     int64 // retention.ms; -1 forever
	RetentionBytes  int64 // retention.bytes; -1 unlimited
	SegmentBytes    int64 // segment.bytes
	SegmentMs       int64 // segment.ms
	MaxMessageBytes int64 // max.message.bytes
	FlushMessages   int64 // flush.messages (1 = fsync every append)
	FlushMs         int64 // flush.ms; math.MaxInt64 = never by time

	CleanupPolicy   string // cleanup.policy: delete, compact or compact,delete
	TimestampType   string // message.timestamp.type
	CompressionType string // compression.type

	MinInsyncReplicas  int32 // min.insync.replicas
	IndexIntervalBytes int32 // index.interval.bytes

	// message.timestamp.before.max.ms and .after.max.ms: how far a
	// CreateTime record's timestamp may lag or lead the broker's clock.
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64
}

// topicDefault returns the default of d for broker b and the source of
// the broker property it comes from.
func topicDefault(b *Broker, d *topicDef) (string, int8) {
	if d.brokerKey == "" {
		return d.def, SourceDefault
	}
	v, src := b.valueSource(d.brokerKey)
	return topicDefaultText(d, v), src
}

// topicDefaultText turns a broker property's value into the topic
// config's default text.
func topicDefaultText(d *topicDef, v string) string {
	if d.name == "flush.ms" && (v == "" || strings.HasPrefix(v, "-")) {
		return maxLong // log.flush.interval.ms unset: never flush by time
	}
	if d.name == "cleanup.policy" {
		v = strings.Join(splitList(v), ",")
	}
	return v
}

// TopicValue returns the effective value of one topic config.
func TopicValue(b *Broker, overrides map[string]string, name string) (string, bool) {
	d, ok := topicDefsByName[name]
	if !ok {
		return "", false
	}
	if v, ok := overrides[name]; ok && ValidateTopicConfig(name, &v) == nil {
		return strings.TrimSpace(v), true
	}
	v, _ := topicDefault(b, d)
	return v, true
}

// ResolveTopic computes a topic's effective configuration. Overrides were
// validated when written; an invalid one is ignored (the default is used).
func ResolveTopic(b *Broker, overrides map[string]string) Topic {
	str := func(name string) string { v, _ := TopicValue(b, overrides, name); return v }
	num := func(name string) int64 { n, _ := strconv.ParseInt(str(name), 10, 64); return n }
	return Topic{
		RetentionMs:        num("retention.ms"),
		RetentionBytes:     num("retention.bytes"),
		SegmentBytes:       num("segment.bytes"),
		SegmentMs:          num("segment.ms"),
		MaxMessageBytes:    num("max.message.bytes"),
		FlushMessages:      num("flush.messages"),
		FlushMs:            num("flush.ms"),
		CleanupPolicy:      str("cleanup.policy"),
		TimestampType:      str("message.timestamp.type"),
		CompressionType:    str("compression.type"),
		MinInsyncReplicas:  int32(num("min.insync.replicas")),
		IndexIntervalBytes: int32(num("index.interval.bytes")),

		TimestampBeforeMaxMs: timestampBound(num("message.timestamp.before.max.ms"), num("message.timestamp.difference.max.ms")),
		TimestampAfterMaxMs:  timestampBound(num("message.timestamp.after.max.ms"), num("message.timestamp.difference.max.ms")),
	}
}

// timestampBound is message.timestamp.before.max.ms or .after.max.ms as
// Kafka 3.x's LogConfig resolves it: while the bound is at its default
// (no limit), the deprecated message.timestamp.difference.max.ms limits
// that side instead, so topics configured before KIP-937 keep their check.
// Kafka 4.0 removed the old config; Sluice still accepts it (topicDefs),
// so it honours it as the last Kafka that did.
func timestampBound(bound, difference int64) int64 {
	if bound == math.MaxInt64 {
		return difference
	}
	return bound
}

// DescribeTopic describes every topic config as Kafka does: the resolved
// value; synonyms the override (DYNAMIC_TOPIC_CONFIG), then the layers of
// the broker synonym (Broker.synonyms); the source the first synonym's,
// DEFAULT_CONFIG when there is none.
func DescribeTopic(b *Broker, overrides map[string]string) []Entry {
	out := make([]Entry, 0, len(topicDefs))
	for i := range topicDefs {
		d := &topicDefs[i]
		v, _ := TopicValue(b, overrides, d.name)
		e := Entry{Name: d.name, Type: d.typ, Doc: d.doc, Source: SourceDefault, Value: v}
		if ov, ok := overrides[d.name]; ok {
			e.Synonyms = append(e.Synonyms, Synonym{Name: d.name, Value: ov, Source: SourceDynamicTopic})
		}
		// Kafka lists the broker synonym's layers only (none for a
		// topic config without one, and no DEFAULT_CONFIG entry for
		// log.retention.ms, whose Kafka default is null).
		if d.brokerKey != "" {
			e.Synonyms = append(e.Synonyms, b.synonyms(d.brokerKey)...)
		}
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		out = append(out, e)
	}
	return out
}

// String renders a Topic for logs.
func (t Topic) String() string {
	return fmt.Sprintf("retention.ms=%d retention.bytes=%d segment.bytes=%d segment.ms=%d cleanup.policy=%s",
		t.RetentionMs, t.RetentionBytes, t.SegmentBytes, t.SegmentMs, t.CleanupPolicy)
}
