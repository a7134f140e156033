package config

import (
	"strconv"
	"strings"
)

const (
	msPerMinute = int64(60 * 1000)
	msPerHour   = 60 * msPerMinute
)

// Default returns Kafka's broker defaults, except LogFlushIntervalMessages
// (1: durable by default) and the single-node conveniences node.id=1,
// listeners=PLAINTEXT://127.0.0.1:9092 and log.dirs=./data.
func Default() *Broker {
	return &Broker{
		NodeID:                   1,
		Listeners:                "PLAINTEXT://127.0.0.1:9092",
		AdvertisedListeners:      "",
		LogDirs:                  "./data",
		NumPartitions:            1,
		DefaultReplicationFactor: 1,
		AutoCreateTopics:         true,
		DeleteTopicEnable:        true,

		LogRetentionMs:              168 * msPerHour,
		LogRetentionBytes:           -1,
		LogSegmentBytes:             1 << 30,
		LogRollMs:                   168 * msPerHour,
		LogRetentionCheckIntervalMs: 300000,
		LogIndexIntervalBytes:       4096,
		LogCleanupPolicy:            "delete",
		LogFlushIntervalMessages:    1,
		LogFlushIntervalMs:          -1,

		MessageMaxBytes:         1048588,
		SocketRequestMaxBytes:   104857600,
		QueuedMaxRequestBytes:   DefaultQueuedMaxRequestBytes,
		ConnectionsMaxIdleMs:    600000,
		LogMessageTimestampType: "CreateTime",

		OffsetsTopicNumPartitions:    50,
		OffsetsRetentionMinutes:      10080,
		GroupInitialRebalanceDelayMs: 3000,
		GroupMinSessionTimeoutMs:     6000,
		GroupMaxSessionTimeoutMs:     1800000,

		TransactionStateLogNumPartitions:   50,
		TransactionMaxTimeoutMs:            900000,
		TransactionAbortTimedOutIntervalMs: 10000,

		Raw: map[string]string{},
	}
}

// Build starts from Default and applies props by Kafka name. Values are
// trimmed (as Kafka's ConfigDef does) and checked against their type and
// range; the first bad value fails with an error naming the key. Unknown
// keys are kept in Raw and otherwise ignored (Kafka only warns).
//
// Precedence follows Kafka: log.retention.ms > log.retention.minutes >
// log.retention.hours, log.roll.ms > log.roll.hours, log.dirs > log.dir.
// A negative retention time means unlimited (-1).
func Build(props map[string]string) (*Broker, error) {
	b := Default()
	for k, v := range props {
		b.Raw[k] = v
	}
	// Validate every known key first so the error does not depend on
	// map order more than necessary: check in table order.
	for i := range brokerDefs {
		d := &brokerDefs[i]
		raw, ok := props[d.name]
		if !ok {
			continue
		}
		v := strings.TrimSpace(raw)
		if v == "" && (d.name == "advertised.listeners" || d.name == "log.flush.interval.ms") {
			continue // Kafka treats an empty nullable value as unset
		}
		if err := parseTyped(d.name, v, d.typ, d.check); err != nil {
			return nil, err
		}
		if d.set != nil {
			d.set(b, v)
		}
	}
	b.resolveFamilies(props)
	if err := b.validateListeners(); err != nil {
		return nil, err
	}
	if err := b.validateKRaft(); err != nil {
		return nil, err
	}
	if err := b.validateInterBroker(); err != nil {
		return nil, err
	}
	if err := b.validateTLSListeners(); err != nil {
		return nil, err
	}
	if b.GroupMinSessionTimeoutMs > b.GroupMaxSessionTimeoutMs {
		return nil, invalid("group.min.session.timeout.ms", strconv.Itoa(int(b.GroupMinSessionTimeoutMs)),
			"must not exceed group.max.session.timeout.ms")
	}
	if err := b.validateSocketServer(); err != nil {
		return nil, err
	}
	if err := b.validateConsumerGroups(); err != nil {
		return nil, err
	}
	if err := b.validateShareGroups(); err != nil {
		return nil, err
	}
	return b, nil
}

// resolveFamilies applies the hours/minutes/ms and log.dir fallbacks.
func (b *Broker) resolveFamilies(props map[string]string) {
	get := func(k string) (int64, bool) {
		v, ok := props[k]
		if !ok || strings.TrimSpace(v) == "" {
			return 0, false
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, true
	}
	if _, ok := get("log.retention.ms"); !ok {
		if m, ok := get("log.retention.minutes"); ok {
			b.LogRetentionMs = m * msPerMinute
		} else if h, ok := get("log.retention.hours"); ok {
			b.LogRetentionMs = h * msPerHour
		}
	}
	if b.LogRetentionMs < 0 {
		b.LogRetentionMs = -1
	}
	if _, ok := get("log.roll.ms"); !ok {
		if h, ok := get("log.roll.hours"); ok {
			b.LogRollMs = h * msPerHour
		}
	}
	if _, ok := props["log.dirs"]; !ok {
		if d := strings.TrimSpace(props["log.dir"]); d != "" {
			b.LogDirs = d
		}
	}
}

// ListenAddr returns the host:port the first listener binds. An empty
// host listens on all interfaces. Port 0 asks the OS for a free port.
func (b *Broker) ListenAddr() (string, error) {
	ls, err := b.ListenerList()
	if err != nil {
		return "", err
	}
	return ls[0].Addr(), nil
}

// AdvertisedHostPort returns the host and port the first listener
// publishes to clients (AdvertisedEndpoint).
func (b *Broker) AdvertisedHostPort() (string, int32, error) {
	ls, err := b.ListenerList()
	if err != nil {
		return "", 0, err
	}
	return b.AdvertisedEndpoint(ls[0].Name)
}
