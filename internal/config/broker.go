// Package config owns broker and topic configuration under Kafka's names:
// Kafka's defaults (except where Sluice is deliberately durable by default;
// see LogFlushIntervalMessages), parsing of Kafka's .properties format
// (LoadProperties), typed building and validation of broker properties
// (Build), the table of Kafka topic configs with validation, resolution and
// description (ValidateTopicConfig, ResolveTopic, DescribeTopic).
//
// Invariants: a *Broker returned by Build holds only values that passed
// their type and range checks, and Raw holds exactly the properties given
// (unknown ones included); a topic's default for any config is derived
// from the broker property Kafka names as its synonym. Typed fields and
// Raw are immutable after Build: share a *Broker freely, never modify
// them. Only the dynamic layers change at runtime (SetDynamic, from the
// metadata image), atomically, and only for IsDynamicBrokerConfig names.
package config

import "sync/atomic"

// Broker is the typed broker configuration. Every field maps to the Kafka
// property named in its comment; Raw keeps every property as given so
// DescribeConfigs can report sources.
type Broker struct {
	NodeID                   int32  // node.id (default 1)
	Listeners                string // listeners (default PLAINTEXT://127.0.0.1:9092)
	AdvertisedListeners      string // advertised.listeners (default: listeners)
	LogDirs                  string // log.dirs (default ./data); first dir used today
	NumPartitions            int32  // num.partitions (default 1)
	DefaultReplicationFactor int16  // default.replication.factor (default 1)
	AutoCreateTopics         bool   // auto.create.topics.enable (default true)
	DeleteTopicEnable        bool   // delete.topic.enable (default true)

	LogRetentionMs              int64  // log.retention.ms (default 7 days; also .hours/.minutes)
	LogRetentionBytes           int64  // log.retention.bytes (default -1)
	LogSegmentBytes             int64  // log.segment.bytes (default 1 GiB)
	LogRollMs                   int64  // log.roll.ms (default 7 days; also log.roll.hours)
	LogRetentionCheckIntervalMs int64  // log.retention.check.interval.ms (default 300000)
	LogIndexIntervalBytes       int32  // log.index.interval.bytes (default 4096)
	LogCleanupPolicy            string // log.cleanup.policy (default delete)

	// log.flush.interval.messages: Kafka's default is Long.MAX_VALUE (never
	// fsync, rely on replication). Sluice defaults to 1: an acknowledged
	// record has been fsynced. Larger values (or log.flush.interval.ms > 0
	// with messages > 1) make acks wait only for the page cache.
	LogFlushIntervalMessages int64
	LogFlushIntervalMs       int64 // log.flush.interval.ms (default: unset = -1)

	MessageMaxBytes         int32  // message.max.bytes (default 1048588)
	SocketRequestMaxBytes   int32  // socket.request.max.bytes (default 104857600)
	LogMessageTimestampType string // log.message.timestamp.type (default CreateTime)

	// queued.max.request.bytes: request bytes all connections may hold in
	// memory before they stop reading their sockets. Kafka's default is -1
	// (unbounded); Sluice defaults to 512 MiB (DefaultQueuedMaxRequestBytes).
	QueuedMaxRequestBytes int64
	ConnectionsMaxIdleMs  int64 // connections.max.idle.ms (default 600000; -1: never)

	OffsetsTopicNumPartitions    int32 // offsets.topic.num.partitions (default 50)
	OffsetsRetentionMinutes      int64 // offsets.retention.minutes (default 10080)
	GroupInitialRebalanceDelayMs int32 // group.initial.rebalance.delay.ms (default 3000)
	GroupMinSessionTimeoutMs     int32 // group.min.session.timeout.ms (default 6000)
	GroupMaxSessionTimeoutMs     int32 // group.max.session.timeout.ms (default 1800000)

	TransactionStateLogNumPartitions int32 // transaction.state.log.num.partitions (default 50)
	TransactionMaxTimeoutMs          int32 // transaction.max.timeout.ms (default 900000)
	// transaction.abort.timed.out.transaction.cleanup.interval.ms (default 10000)
	TransactionAbortTimedOutIntervalMs int32

	// authorizer.class.name (default ""): StandardAuthorizerClass or
	// AclAuthorizerClass enable ACL authorization; "" disables it.
	AuthorizerClassName       string
	SuperUsersList            string // super.users (default ""), semicolon-separated principals
	AllowEveryoneIfNoACLFound bool   // allow.everyone.if.no.acl.found (default false)

	// Raw holds every property explicitly set (file or override), by Kafka name.
	Raw map[string]string

	// dyn holds the configs set at runtime (SetDynamic); they take
	// precedence over Raw wherever configs are resolved by name.
	dyn atomic.Pointer[dynamicLayers]
}
