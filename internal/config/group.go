package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Group configs: Kafka 4.2's GroupConfig, the dynamic configs of
// ConfigResource type GROUP (32), stored as ConfigRecords in the metadata
// log by group id. A group need not exist to have configs (a share
// consumer's tooling sets share.auto.offset.reset before the group's first
// heartbeat). Each key's default is a broker property (its "synonym"), so
// an unset group config follows the broker's dynamic and static layers.
//
// Validation is Kafka's GroupConfig.validate: unknown names and values that
// do not parse are refused, then the group's whole resulting set (absent
// keys at their broker defaults) is checked against the broker's min/max
// properties and interval < session timeout.

// SourceGroupConfig is Kafka's ConfigSource GROUP_CONFIG (DescribeConfigs).
const SourceGroupConfig int8 = 8

// Group config names (Kafka's GroupConfig constants).
const (
	GroupConsumerSessionTimeout    = "consumer.session.timeout.ms"
	GroupConsumerHeartbeatInterval = "consumer.heartbeat.interval.ms"
	GroupShareSessionTimeout       = "share.session.timeout.ms"
	GroupShareHeartbeatInterval    = "share.heartbeat.interval.ms"
	GroupShareRecordLockDuration   = "share.record.lock.duration.ms"
	GroupShareAutoOffsetReset      = "share.auto.offset.reset"
	GroupShareIsolationLevel       = "share.isolation.level"
	GroupStreamsSessionTimeout     = "streams.session.timeout.ms"
	GroupStreamsHeartbeatInterval  = "streams.heartbeat.interval.ms"
	GroupStreamsNumStandbyReplicas = "streams.num.standby.replicas"
)

type groupDef struct {
	name   string
	typ    int8
	broker string // the broker property giving the default
	check  checkFn
	doc    string
}

var groupDefs = []groupDef{
	{GroupConsumerHeartbeatInterval, TypeInt, "group.consumer.heartbeat.interval.ms", atLeast(1), "The heartbeat interval given to the members of a consumer group."},
	{GroupConsumerSessionTimeout, TypeInt, "group.consumer.session.timeout.ms", atLeast(1), "The timeout to detect client failures when using the consumer group protocol."},
	{GroupShareAutoOffsetReset, TypeString, "", checkShareAutoOffsetReset, "The strategy to initialize the share-partition start offset: latest, earliest or by_duration:<ISO-8601 duration>."},
	{GroupShareHeartbeatInterval, TypeInt, "group.share.heartbeat.interval.ms", atLeast(1), "The heartbeat interval given to the members of a share group."},
	{GroupShareIsolationLevel, TypeString, "", oneOf("read_committed", "read_uncommitted"), "Whether a share group delivers only committed transactional records (read_committed) or every record (read_uncommitted)."},
	{GroupShareRecordLockDuration, TypeInt, "group.share.record.lock.duration.ms", atLeast(1000), "The record acquisition lock duration in milliseconds for share groups."},
	{GroupShareSessionTimeout, TypeInt, "group.share.session.timeout.ms", atLeast(1), "The timeout to detect client failures when using the share group protocol."},
	{GroupStreamsHeartbeatInterval, TypeInt, "group.streams.heartbeat.interval.ms", atLeast(1), "The heartbeat interval given to the members of a streams group."},
	{GroupStreamsNumStandbyReplicas, TypeInt, "group.streams.num.standby.replicas", atLeast(0), "The number of standby replicas for each task of a streams group."},
	{GroupStreamsSessionTimeout, TypeInt, "group.streams.session.timeout.ms", atLeast(1), "The timeout to detect client failures when using the streams group protocol."},
}

// groupFixedDefaults are the defaults of group configs with no broker
// synonym.
var groupFixedDefaults = map[string]string{
	GroupShareAutoOffsetReset: "latest",
	GroupShareIsolationLevel:  "read_uncommitted",
}

func groupDefOf(name string) *groupDef {
	for i := range groupDefs {
		if groupDefs[i].name == name {
			return &groupDefs[i]
		}
	}
	return nil
}

// GroupConfigNames lists the group config names, sorted.
func GroupConfigNames() []string {
	out := make([]string, len(groupDefs))
	for i, d := range groupDefs {
		out[i] = d.name
	}
	return out
}

// IsGroupConfig reports whether name is a group config.
func IsGroupConfig(name string) bool { return groupDefOf(name) != nil }

// GroupDefault is name's default for groups without an override: the
// broker property it derives from, else Kafka's fixed default.
func GroupDefault(b *Broker, name string) string {
	d := groupDefOf(name)
	if d == nil {
		return ""
	}
	if d.broker != "" && b != nil {
		if v := b.EffectiveValue(d.broker); v != "" {
			return v
		}
	}
	if d.broker != "" {
		return brokerDefsByName[d.broker].def
	}
	return groupFixedDefaults[name]
}

// GroupValue is name's effective value for a group with overrides.
func GroupValue(b *Broker, overrides map[string]string, name string) string {
	if v, ok := overrides[name]; ok {
		return v
	}
	return GroupDefault(b, name)
}

// ValidateGroupConfig checks one name and, when value is not nil, that the
// value parses and passes the key's own check (Kafka's ConfigDef parse).
func ValidateGroupConfig(name string, value *string) error {
	d := groupDefOf(name)
	if d == nil {
		return &Error{Kind: ErrUnknownConfig, Msg: "Unknown group config name: " + name}
	}
	if value == nil {
		return nil
	}
	return parseTyped(name, strings.TrimSpace(*value), d.typ, d.check)
}

// ValidateGroupConfigs checks a group's complete set of overrides the way
// Kafka's GroupConfig.validate does: each key on its own, then the bounds
// the broker's min/max properties put on them, then each heartbeat
// interval below its session timeout. Messages are Kafka's.
func ValidateGroupConfigs(b *Broker, overrides map[string]string) error {
	for _, k := range slices.Sorted(mapsKeys(overrides)) {
		v := overrides[k]
		if err := ValidateGroupConfig(k, &v); err != nil {
			return err
		}
	}
	num := func(name string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(GroupValue(b, overrides, name)), 10, 64)
		return n
	}
	brokerNum := func(prop string) int64 {
		v := brokerDefsByName[prop].def
		if b != nil {
			v = b.EffectiveValue(prop)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	bounds := []struct{ key, minProp, maxProp string }{
		{GroupConsumerHeartbeatInterval, "group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"},
		{GroupConsumerSessionTimeout, "group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"},
		{GroupShareHeartbeatInterval, "group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"},
		{GroupShareSessionTimeout, "group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"},
		{GroupShareRecordLockDuration, "group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"},
		{GroupStreamsHeartbeatInterval, "group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms"},
		{GroupStreamsSessionTimeout, "group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms"},
		{GroupStreamsNumStandbyReplicas, "", "group.streams.max.standby.replicas"},
	}
	for _, bd := range bounds {
		v := num(bd.key)
		if bd.minProp != "" && v < brokerNum(bd.minProp) {
			return &Error{Kind: ErrInvalidValue, Msg: bd.key + " must be greater than or equal to " + bd.minProp}
		}
		if v > brokerNum(bd.maxProp) {
			return &Error{Kind: ErrInvalidValue, Msg: bd.key + " must be less than or equal to " + bd.maxProp}
		}
	}
	for _, p := range [][2]string{
		{GroupConsumerSessionTimeout, GroupConsumerHeartbeatInterval},
		{GroupShareSessionTimeout, GroupShareHeartbeatInterval},
		{GroupStreamsSessionTimeout, GroupStreamsHeartbeatInterval},
	} {
		if num(p[0]) <= num(p[1]) {
			return &Error{Kind: ErrInvalidValue, Msg: p[0] + " must be greater than " + p[1]}
		}
	}
	return nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// DescribeGroup describes every group config of a group with overrides:
// GROUP_CONFIG for an override, DEFAULT_CONFIG otherwise (Kafka reports
// the broker-derived default under DEFAULT_CONFIG too).
func DescribeGroup(b *Broker, overrides map[string]string) []Entry {
	out := make([]Entry, 0, len(groupDefs))
	for _, d := range groupDefs {
		e := Entry{Name: d.name, Type: d.typ, Doc: d.doc}
		def := GroupDefault(b, d.name)
		if v, ok := overrides[d.name]; ok {
			e.Value, e.Source = v, SourceGroupConfig
			e.Synonyms = append(e.Synonyms, Synonym{Name: d.name, Value: v, Source: SourceGroupConfig})
		} else {
			e.Value, e.Source = def, SourceDefault
		}
		e.Synonyms = append(e.Synonyms, Synonym{Name: d.name, Value: def, Source: SourceDefault})
		out = append(out, e)
	}
	return out
}

// checkShareAutoOffsetReset accepts latest, earliest (any case, as
// Kafka's validator lowercases) and by_duration:<ISO-8601 duration>, the
// duration not negative.
func checkShareAutoOffsetReset(key, v string) error {
	switch strings.ToLower(v) {
	case "latest", "earliest":
		return nil
	}
	if rest, ok := strings.CutPrefix(v, "by_duration:"); ok {
		d, err := ParseISODuration(rest)
		if err != nil {
			return invalid(key, v, err.Error())
		}
		if d < 0 {
			return invalid(key, v, "the duration must not be negative")
		}
		return nil
	}
	return invalid(key, v, "must be latest, earliest or by_duration:<ISO-8601 duration>")
}

// ParseISODuration parses the ISO-8601 durations Java's Duration.parse
// accepts: [-]PnDTnHnMn.nS, each part optional (at least one), each
// number optionally signed, seconds with up to 9 fractional digits.
func ParseISODuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not an ISO-8601 duration (PnDTnHnMn.nS)", s)
	neg := false
	in := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(in, "-"):
		neg, in = true, in[1:]
	case strings.HasPrefix(in, "+"):
		in = in[1:]
	}
	in, ok := strings.CutPrefix(in, "P")
	if !ok || in == "" {
		return 0, bad
	}
	datePart, timePart, hasT := strings.Cut(in, "T")
	if hasT && timePart == "" {
		return 0, bad
	}
	var total float64
	parts := 0
	take := func(seg string, units map[byte]float64, order string) error {
		for seg != "" {
			i := strings.IndexAny(seg, order)
			if i <= 0 {
				return bad
			}
			unit := seg[i]
			n, err := strconv.ParseFloat(seg[:i], 64)
			if err != nil || (unit != 'S' && strings.Contains(seg[:i], ".")) {
				return bad
			}
			// Units must come in order, each once.
			j := strings.IndexByte(order, unit)
			order = order[j+1:]
			total += n * units[unit]
			parts++
			seg = seg[i+1:]
		}
		return nil
	}
	if err := take(datePart, map[byte]float64{'D': 86400}, "D"); err != nil {
		return 0, err
	}
	if err := take(timePart, map[byte]float64{'H': 3600, 'M': 60, 'S': 1}, "HMS"); err != nil {
		return 0, err
	}
	if parts == 0 {
		return 0, bad
	}
	d := time.Duration(total * float64(time.Second))
	if neg {
		d = -d
	}
	return d, nil
}
