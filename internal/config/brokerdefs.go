package config

import (
	"maps"
	"strconv"
	"strings"
)

// brokerDef describes one broker property. Typed properties have get/set
// on a Broker field; the others (synonyms of topic configs, such as
// compression.type) are kept only in Raw and read through value().
type brokerDef struct {
	name  string
	typ   int8
	def   string // default as text; "" for none (null in Kafka)
	check checkFn
	doc   string
	get   func(b *Broker) string
	set   func(b *Broker, v string)
	// kafkaOnly marks a Kafka config Sluice does not implement
	// (kafka_catalog.go): described and accepted, with no effect.
	kafkaOnly bool
}

const maxLong = "9223372036854775807"

func i32Field(name, doc string, f func(*Broker) *int32, check checkFn) brokerDef {
	return brokerDef{name: name, typ: TypeInt, check: check, doc: doc,
		get: func(b *Broker) string { return strconv.FormatInt(int64(*f(b)), 10) },
		set: func(b *Broker, v string) { n, _ := strconv.ParseInt(v, 10, 32); *f(b) = int32(n) }}
}

// i64Field stores an INT or LONG property in an int64 field.
func i64Field(name string, typ int8, doc string, f func(*Broker) *int64, check checkFn) brokerDef {
	return brokerDef{name: name, typ: typ, check: check, doc: doc,
		get: func(b *Broker) string { return strconv.FormatInt(*f(b), 10) },
		set: func(b *Broker, v string) { *f(b), _ = strconv.ParseInt(v, 10, 64) }}
}

func boolField(name, doc string, f func(*Broker) *bool) brokerDef {
	return brokerDef{name: name, typ: TypeBoolean, doc: doc,
		get: func(b *Broker) string { return strconv.FormatBool(*f(b)) },
		set: func(b *Broker, v string) { *f(b) = strings.EqualFold(v, "true") }}
}

func strField(name, doc string, f func(*Broker) *string, check checkFn) brokerDef {
	return brokerDef{name: name, typ: TypeString, check: check, doc: doc,
		get: func(b *Broker) string { return *f(b) },
		set: func(b *Broker, v string) { *f(b) = v }}
}

// asList makes a string field a LIST config (Kafka's type).
func asList(d brokerDef) brokerDef {
	d.typ = TypeList
	return d
}

func rawDef(name string, typ int8, def string, check checkFn, doc string) brokerDef {
	return brokerDef{name: name, typ: typ, def: def, check: check, doc: doc}
}

// brokerDefs lists every broker property Sluice knows, in Describe order.
// The retention/roll families (hours/minutes/ms), log.dir and the
// listeners are parsed specially by Build but described from here.
var brokerDefs = []brokerDef{
	i32Field("node.id", "The node id of this broker.", func(b *Broker) *int32 { return &b.NodeID }, atLeast(0)),
	strField("listeners", "Comma-separated listeners NAME://host:port, e.g. PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093; each name's security protocol comes from listener.security.protocol.map (PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL).", func(b *Broker) *string { return &b.Listeners }, nil),
	strField("advertised.listeners", "Listeners published to clients, by listener name; a listener not named here publishes its own address.", func(b *Broker) *string { return &b.AdvertisedListeners }, nil),
	rawDef("listener.security.protocol.map", TypeString, DefaultProtocolMap, nil, "Security protocol of each listener name, LISTENER_NAME:PROTOCOL,... (Kafka's default maps each protocol name to itself). SSL and SASL_SSL listeners take Kafka's ssl.* configs, globally or as listener.name.<name>.ssl.* (JKS, PKCS12 or PEM stores); an SSL or SASL_SSL inter-broker listener and an SSL controller listener are dialed with TLS too, the listener's keystore as the client certificate (SASL_SSL is refused for the controller listener)."),
	rawDef("sasl.enabled.mechanisms", TypeList, DefaultSASLMechanism, nil, "SASL mechanisms enabled on SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (unsecured tokens; Kafka's default GSSAPI is not supported; Sluice defaults to PLAIN). Per listener: listener.name.<name>.sasl.enabled.mechanisms."),
	rawDef("connections.max.reauth.ms", TypeLong, "0", nil, "Longest SASL session before the client must re-authenticate on its connection (KIP-368); 0: no limit. Per listener and mechanism: listener.name.<name>.<mechanism>.connections.max.reauth.ms."),
	strField("log.dirs", "Directories holding the log data (the first one is used).", func(b *Broker) *string { return &b.LogDirs }, nil),
	rawDef("log.dir", TypeString, "", nil, "Log directory, used when log.dirs is not set."),
	i32Field("num.partitions", "Default number of partitions per topic.", func(b *Broker) *int32 { return &b.NumPartitions }, atLeast(1)),
	{name: "default.replication.factor", typ: TypeInt, check: between(1, 32767), doc: "Default replication factor for new topics.",
		get: func(b *Broker) string { return strconv.Itoa(int(b.DefaultReplicationFactor)) },
		set: func(b *Broker, v string) { n, _ := strconv.Atoi(v); b.DefaultReplicationFactor = int16(n) }},
	boolField("auto.create.topics.enable", "Create a topic when a client asks for metadata of an unknown topic.", func(b *Broker) *bool { return &b.AutoCreateTopics }),
	boolField("delete.topic.enable", "Allow deleting topics through the admin API.", func(b *Broker) *bool { return &b.DeleteTopicEnable }),

	i64Field("log.retention.ms", TypeLong, "How long to keep a log segment before deleting it (-1: forever). Overrides log.retention.minutes and log.retention.hours.", func(b *Broker) *int64 { return &b.LogRetentionMs }, nil),
	rawDef("log.retention.minutes", TypeInt, "", nil, "Retention in minutes; overrides log.retention.hours."),
	rawDef("log.retention.hours", TypeInt, "168", nil, "Retention in hours."),
	i64Field("log.retention.bytes", TypeLong, "Maximum size of a partition log before old segments are deleted (-1: unlimited).", func(b *Broker) *int64 { return &b.LogRetentionBytes }, nil),
	i64Field("log.segment.bytes", TypeInt, "Maximum size of one log segment file.", func(b *Broker) *int64 { return &b.LogSegmentBytes }, atLeast(14)),
	i64Field("log.roll.ms", TypeLong, "Maximum age of the active segment before a new one is rolled. Overrides log.roll.hours.", func(b *Broker) *int64 { return &b.LogRollMs }, atLeast(1)),
	rawDef("log.roll.hours", TypeInt, "168", atLeast(1), "Maximum age of the active segment in hours."),
	i64Field("log.retention.check.interval.ms", TypeLong, "How often the retention cleaner runs.", func(b *Broker) *int64 { return &b.LogRetentionCheckIntervalMs }, atLeast(1)),
	i32Field("log.index.interval.bytes", "Bytes between entries of the offset index.", func(b *Broker) *int32 { return &b.LogIndexIntervalBytes }, atLeast(0)),
	asList(strField("log.cleanup.policy", "Default cleanup policy: delete, compact or both.", func(b *Broker) *string { return &b.LogCleanupPolicy }, listOf("compact", "delete"))),
	i64Field("log.flush.interval.messages", TypeLong, "Messages appended to a partition before it is fsynced. Sluice defaults to 1 (every acknowledged record is durable).", func(b *Broker) *int64 { return &b.LogFlushIntervalMessages }, atLeast(1)),
	i64Field("log.flush.interval.ms", TypeLong, "Maximum time data stays unsynced (-1: unset).", func(b *Broker) *int64 { return &b.LogFlushIntervalMs }, atLeast(-1)),
	i32Field("message.max.bytes", "Largest record batch size allowed.", func(b *Broker) *int32 { return &b.MessageMaxBytes }, atLeast(0)),
	i32Field("socket.request.max.bytes", "Largest request size accepted.", func(b *Broker) *int32 { return &b.SocketRequestMaxBytes }, atLeast(1)),
	i64Field("queued.max.request.bytes", TypeLong, "Request bytes all connections together may hold in memory (read, or being read, and not yet answered); when they are taken, connections stop reading their sockets until memory is released. <= 0: unbounded (Kafka's default -1). Sluice defaults to 512 MiB so that clients declaring large frames cannot exhaust memory. Must be at least socket.request.max.bytes.", func(b *Broker) *int64 { return &b.QueuedMaxRequestBytes }, nil),
	i64Field("connections.max.idle.ms", TypeLong, "Close a connection with no request in flight and nothing received or sent for this long. -1: never.", func(b *Broker) *int64 { return &b.ConnectionsMaxIdleMs }, checkIdleMs),
	strField("log.message.timestamp.type", "CreateTime or LogAppendTime.", func(b *Broker) *string { return &b.LogMessageTimestampType }, oneOf("CreateTime", "LogAppendTime")),
	i32Field("offsets.topic.num.partitions", "Partitions of __consumer_offsets.", func(b *Broker) *int32 { return &b.OffsetsTopicNumPartitions }, atLeast(1)),
	i64Field("offsets.retention.minutes", TypeInt, "How long committed offsets of an empty group are kept.", func(b *Broker) *int64 { return &b.OffsetsRetentionMinutes }, atLeast(1)),
	i32Field("group.initial.rebalance.delay.ms", "Delay before the first rebalance of a new group.", func(b *Broker) *int32 { return &b.GroupInitialRebalanceDelayMs }, nil),
	i32Field("group.min.session.timeout.ms", "Smallest session timeout a consumer may ask for.", func(b *Broker) *int32 { return &b.GroupMinSessionTimeoutMs }, nil),
	i32Field("group.max.session.timeout.ms", "Largest session timeout a consumer may ask for.", func(b *Broker) *int32 { return &b.GroupMaxSessionTimeoutMs }, nil),
	rawDef("group.coordinator.rebalance.protocols", TypeList, "classic,consumer", listOf("classic", "consumer"), "Group protocols served: classic (JoinGroup/SyncGroup) and consumer (KIP-848 ConsumerGroupHeartbeat, keys 68 and 69 advertised only with it). Must include classic."),
	rawDef("group.consumer.assignors", TypeList, "uniform,range", listOf(consumerAssignors...), "Server-side assignors of consumer groups, the first the default: uniform, range (Kafka's class names are accepted)."),
	rawDef("group.consumer.heartbeat.interval.ms", TypeInt, "5000", atLeast(1), "Heartbeat interval of consumer group members."),
	rawDef("group.consumer.min.heartbeat.interval.ms", TypeInt, "5000", atLeast(1), "Smallest group.consumer.heartbeat.interval.ms."),
	rawDef("group.consumer.max.heartbeat.interval.ms", TypeInt, "15000", atLeast(1), "Largest group.consumer.heartbeat.interval.ms."),
	rawDef("group.consumer.session.timeout.ms", TypeInt, "45000", atLeast(1), "Session timeout of consumer group members."),
	rawDef("group.consumer.min.session.timeout.ms", TypeInt, "45000", atLeast(1), "Smallest group.consumer.session.timeout.ms."),
	rawDef("group.consumer.max.session.timeout.ms", TypeInt, "60000", atLeast(1), "Largest group.consumer.session.timeout.ms."),
	rawDef("group.consumer.max.size", TypeInt, "2147483647", atLeast(1), "Most members a consumer group may have (GROUP_MAX_SIZE_REACHED beyond)."),
	rawDef("group.share.enable", TypeBoolean, "true", nil, "Serve share groups (KIP-932: ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch, ShareAcknowledge and the share group offset APIs). Kafka 4.2 enables them by default through the share.version feature."),
	rawDef("group.share.heartbeat.interval.ms", TypeInt, "5000", atLeast(1), "Heartbeat interval of share group members."),
	rawDef("group.share.min.heartbeat.interval.ms", TypeInt, "5000", atLeast(1), "Smallest share.heartbeat.interval.ms a share group may be given."),
	rawDef("group.share.max.heartbeat.interval.ms", TypeInt, "15000", atLeast(1), "Largest share.heartbeat.interval.ms a share group may be given."),
	rawDef("group.share.session.timeout.ms", TypeInt, "45000", atLeast(1), "Session timeout of share group members."),
	rawDef("group.share.min.session.timeout.ms", TypeInt, "45000", atLeast(1), "Smallest share.session.timeout.ms a share group may be given."),
	rawDef("group.share.max.session.timeout.ms", TypeInt, "60000", atLeast(1), "Largest share.session.timeout.ms a share group may be given."),
	rawDef(ShareMaxSizeKey, TypeInt, "200", between(1, 1000), "Most members a share group may have (GROUP_MAX_SIZE_REACHED beyond)."),
	rawDef("group.share.assignors", TypeList, "simple", listOf("simple", "org.apache.kafka.coordinator.group.assignor.SimpleAssignor"), "Server-side assignor of share groups: simple."),
	rawDef(ShareRecordLockDurationKey, TypeInt, "30000", between(1000, 3600000), "Default acquisition lock duration of a share group's records."),
	rawDef(ShareMinRecordLockDurationKey, TypeInt, "15000", between(1000, 30000), "Smallest share.record.lock.duration.ms a share group may be given."),
	rawDef(ShareMaxRecordLockDurationKey, TypeInt, "60000", between(30000, 3600000), "Largest share.record.lock.duration.ms a share group may be given."),
	rawDef(ShareDeliveryCountLimitKey, TypeInt, "5", between(2, 10), "Deliveries of a record to a share group before it is archived (at least group.share.min.delivery.count.limit, at most group.share.max.delivery.count.limit)."),
	rawDef(ShareMinDeliveryCountLimitKey, TypeInt, "2", between(2, 5), "Smallest delivery count limit of a share group."),
	rawDef(ShareMaxDeliveryCountLimitKey, TypeInt, "10", between(5, 25), "Largest delivery count limit of a share group."),
	rawDef(SharePartitionMaxRecordLocksKey, TypeInt, "2000", between(100, 10000), "In-flight records of one share-partition beyond which no new record is acquired."),
	rawDef(ShareMaxSessionsKey, TypeInt, "2000", atLeast(1), "Share sessions this broker holds at most (SHARE_SESSION_LIMIT_REACHED beyond); at least group.share.max.size."),
	rawDef(ShareStateTopicPartitionsKey, TypeInt, "50", atLeast(1), "Partitions of __share_group_state, used when it is created."),
	rawDef(ShareStateTopicSegmentBytesKey, TypeInt, "104857600", atLeast(1), "segment.bytes of __share_group_state, used when it is created."),
	rawDef("group.streams.heartbeat.interval.ms", TypeInt, "5000", atLeast(1), "Heartbeat interval of streams group members (streams groups are not served yet)."),
	rawDef("group.streams.min.heartbeat.interval.ms", TypeInt, "5000", atLeast(1), "Smallest streams.heartbeat.interval.ms a streams group may be given."),
	rawDef("group.streams.max.heartbeat.interval.ms", TypeInt, "15000", atLeast(1), "Largest streams.heartbeat.interval.ms a streams group may be given."),
	rawDef("group.streams.session.timeout.ms", TypeInt, "45000", atLeast(1), "Session timeout of streams group members (streams groups are not served yet)."),
	rawDef("group.streams.min.session.timeout.ms", TypeInt, "45000", atLeast(1), "Smallest streams.session.timeout.ms a streams group may be given."),
	rawDef("group.streams.max.session.timeout.ms", TypeInt, "60000", atLeast(1), "Largest streams.session.timeout.ms a streams group may be given."),
	rawDef("group.streams.num.standby.replicas", TypeInt, "0", atLeast(0), "Standby replicas of each task of a streams group."),
	rawDef("group.streams.max.standby.replicas", TypeInt, "2", atLeast(0), "Largest streams.num.standby.replicas a streams group may be given."),
	i32Field("transaction.state.log.num.partitions", "Partitions of __transaction_state.", func(b *Broker) *int32 { return &b.TransactionStateLogNumPartitions }, atLeast(1)),
	i32Field("transaction.max.timeout.ms", "Largest transaction.timeout.ms a producer may ask for.", func(b *Broker) *int32 { return &b.TransactionMaxTimeoutMs }, atLeast(1)),
	i32Field("transaction.abort.timed.out.transaction.cleanup.interval.ms", "How often timed-out transactions are aborted.", func(b *Broker) *int32 { return &b.TransactionAbortTimedOutIntervalMs }, atLeast(1)),

	strField("authorizer.class.name", "The authorizer: org.apache.kafka.metadata.authorizer.StandardAuthorizer (or its alias kafka.security.authorizer.AclAuthorizer) enforces ACLs; empty disables authorization.", func(b *Broker) *string { return &b.AuthorizerClassName }, checkAuthorizer),
	strField("super.users", "Semicolon-separated principals (User:name) allowed every operation on every resource.", func(b *Broker) *string { return &b.SuperUsersList }, nil),
	boolField("allow.everyone.if.no.acl.found", "Allow an operation on a resource that no ACL matches (with an authorizer).", func(b *Broker) *bool { return &b.AllowEveryoneIfNoACLFound }),

	// Broker-level defaults of topic configs without a typed field.
	rawDef("compression.type", TypeString, "producer", oneOf(compressionTypes...), "Default compression of stored batches."),
	rawDef("compression.gzip.level", TypeInt, "-1", betweenOr(1, 9, -1), "gzip level when compression.type=gzip."),
	rawDef("compression.lz4.level", TypeInt, "9", between(1, 17), "lz4 level when compression.type=lz4."),
	rawDef("compression.zstd.level", TypeInt, "3", between(-131072, 22), "zstd level when compression.type=zstd."),
	rawDef("min.insync.replicas", TypeInt, "1", atLeast(1), "Minimum in-sync replicas for acks=all."),
	rawDef("unclean.leader.election.enable", TypeBoolean, "false", nil, "Allow out-of-sync replicas to become leader."),
	rawDef("log.cleaner.enable", TypeBoolean, "true", nil, "Run the log cleaner, which compacts cleanup.policy=compact topics."),
	rawDef("log.cleaner.threads", TypeInt, "1", atLeast(0), "Log cleaner goroutines."),
	rawDef("log.cleaner.backoff.ms", TypeLong, "15000", atLeast(0), "How long the cleaner sleeps when no log needs cleaning."),
	rawDef("log.cleaner.dedupe.buffer.size", TypeLong, "134217728", atLeast(0), "Memory for the cleaner's key-to-offset map, shared by its threads."),
	rawDef("log.cleaner.io.buffer.size", TypeInt, "524288", atLeast(0), "Read and write buffer of each cleaner thread."),
	rawDef("log.cleaner.delete.retention.ms", TypeLong, "86400000", atLeast(0), "How long delete tombstones are kept on compacted topics."),
	rawDef("log.cleaner.min.compaction.lag.ms", TypeLong, "0", atLeast(0), "Minimum time a record stays uncompacted."),
	rawDef("log.cleaner.max.compaction.lag.ms", TypeLong, maxLong, atLeast(1), "Maximum time a record stays ineligible for compaction."),
	rawDef("log.cleaner.min.cleanable.ratio", TypeDouble, "0.5", ratio, "Minimum dirty ratio before a log is compacted."),
	rawDef("log.segment.delete.delay.ms", TypeLong, "60000", atLeast(0), "Delay before a deleted segment file is removed."),
	rawDef("log.index.size.max.bytes", TypeInt, "10485760", atLeast(4), "Maximum size of an offset index file."),
	rawDef("log.roll.jitter.ms", TypeLong, "0", atLeast(0), "Maximum jitter subtracted from the segment roll time."),
	rawDef("log.preallocate", TypeBoolean, "false", nil, "Preallocate segment files."),
	rawDef(ScrubIntervalKey, TypeLong, "86400000", atLeast(-1), "Sluice extension: pause between the end of one scrubber pass over every closed segment (each batch's CRC-32C checked) and the start of the next; -1 disables the scrubber."),
	rawDef(ScrubBytesPerSecondKey, TypeLong, "10485760", atLeast(1), "Sluice extension: the most bytes per second the scrubber reads."),
	rawDef("log.message.timestamp.before.max.ms", TypeLong, maxLong, atLeast(0), "Largest allowed age of a record timestamp."),
	rawDef("log.message.timestamp.after.max.ms", TypeLong, "3600000", atLeast(0), "Largest allowed lead of a record timestamp over broker time."),
	rawDef("log.message.timestamp.difference.max.ms", TypeLong, maxLong, atLeast(0), "Deprecated: largest allowed timestamp difference."),
	rawDef("log.message.downconversion.enable", TypeBoolean, "true", nil, "Deprecated: down-convert batches for old fetchers."),
	rawDef("log.local.retention.ms", TypeLong, "-2", atLeast(-2), "Local retention with tiered storage (-2: retention.ms)."),
	rawDef("quota.window.num", TypeInt, "11", atLeast(1), "Samples kept by client quota rate sensors."),
	rawDef("quota.window.size.seconds", TypeInt, "1", atLeast(1), "Time span of one client quota sample."),
	rawDef("controller.quota.window.num", TypeInt, "11", atLeast(1), "Samples kept by controller mutation quota sensors."),
	rawDef("controller.quota.window.size.seconds", TypeInt, "1", atLeast(1), "Time span of one controller mutation quota sample."),
	rawDef("log.local.retention.bytes", TypeLong, "-2", atLeast(-2), "Local retention size with tiered storage (-2: retention.bytes)."),
}

var brokerDefsByName = func() map[string]*brokerDef {
	brokerDefs = append(append(append(append(append(append(brokerDefs, kraftDefs...), interBrokerDefs...), lifecycleDefs...), internalTopicDefs...), replicationDefs...), hwCheckpointDefs...)
	brokerDefs = append(brokerDefs, leaderRebalanceDefs...)
	brokerDefs = append(brokerDefs, sslDefs...)
	brokerDefs = append(brokerDefs, fetchSessionDefs...)
	have := map[string]bool{}
	for _, d := range brokerDefs {
		have[d.name] = true
	}
	for _, d := range kafkaOnlyDefs {
		if !have[d.name] {
			brokerDefs = append(brokerDefs, d)
		}
	}
	m := make(map[string]*brokerDef, len(brokerDefs))
	for i := range brokerDefs {
		d := &brokerDefs[i]
		if !d.kafkaOnly && IsDynamicBrokerConfig(d.name) && !sluiceApplies[d.name] {
			d.doc += docNotApplied
		}
		m[d.name] = d
	}
	return m
}()

// kafkaNullDefaults are configs whose Kafka default is null although
// Sluice's typed field holds the value they resolve to: Kafka lists no
// DEFAULT_CONFIG synonym for them (log.retention.hours and log.roll.hours
// carry the default).
var kafkaNullDefaults = map[string]bool{"log.retention.ms": true, "log.roll.ms": true, "log.flush.interval.ms": true}

// value returns the effective value of a broker property and whether it
// was set explicitly, statically or dynamically (for the retention and
// roll families: whether any of the family was set).
func (b *Broker) value(name string) (string, bool) {
	v, src := b.valueSource(name)
	return v, src != SourceDefault
}

// valueSource returns the effective value of a broker property and where
// it comes from. As in Kafka, the layers are merged per name first
// (per-broker dynamic over cluster-default dynamic over static over
// default), then a family resolves by member: a static log.retention.ms
// beats a dynamic log.retention.hours.
func (b *Broker) valueSource(name string) (string, int8) {
	if members, ok := familyMembers[name]; ok {
		for _, f := range members {
			v, src, ok := b.merged(f.name)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			if n < 0 {
				return "-1", src
			}
			return strconv.FormatInt(n*f.unit, 10), src
		}
		return "", SourceDefault
	}
	v, src, ok := b.merged(name)
	if !ok {
		return "", SourceDefault
	}
	return v, src
}

// merged returns the highest-precedence layer's value of exactly name.
func (b *Broker) merged(name string) (string, int8, bool) {
	for _, l := range b.layers() {
		if v, ok := l.get(name); ok {
			return v, l.src, true
		}
	}
	return "", SourceDefault, false
}

type layer struct {
	src int8
	get func(name string) (string, bool)
}

// layers are Kafka's config sources, highest precedence first.
func (b *Broker) layers() []layer {
	l := b.dyn.Load()
	if l == nil {
		l = &dynamicLayers{}
	}
	return []layer{
		{SourceDynamicBroker, func(n string) (string, bool) { return layerValue(l.perBroker, n) }},
		{SourceDynamicDefaultBroker, func(n string) (string, bool) { return layerValue(l.cluster, n) }},
		{SourceStaticBroker, b.staticValue},
		{SourceDefault, defaultValue},
	}
}

// synonymNames are Kafka's synonyms of a broker config name, in
// precedence order (DynamicBrokerConfig.brokerConfigSynonyms).
func synonymNames(name string) []string {
	switch name {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	}
	if base, ok := listenerBase(name); ok {
		// listener.name.<l>.<mechanism>.<config> for the mechanism configs
		for _, m := range []string{"sasl.jaas.config", "sasl.login.callback.handler.class", "sasl.login.class",
			"sasl.server.callback.handler.class", "connections.max.reauth.ms"} {
			if strings.HasSuffix(base, m) {
				return []string{name, m}
			}
		}
		return []string{name, base}
	}
	return []string{name}
}

// synonyms lists where name's value could come from, as Kafka's
// DescribeConfigs does: for each layer (per-broker dynamic, cluster-default
// dynamic, static, default) each synonym name that layer sets, then
// everything before the first entry for name itself dropped.
func (b *Broker) synonyms(name string) []Synonym {
	names := synonymNames(name)
	var out []Synonym
	for _, l := range b.layers() {
		for _, n := range names {
			if v, ok := l.get(n); ok {
				out = append(out, Synonym{Name: n, Value: v, Source: l.src})
			}
		}
	}
	for len(out) > 0 && out[0].Name != name {
		out = out[1:]
	}
	return out
}

var defaultBroker = Default()

// defaultValue is Kafka's default of name (none when Kafka's is null).
func defaultValue(name string) (string, bool) {
	d, ok := brokerDefsByName[name]
	if !ok || kafkaNullDefaults[name] {
		return "", false
	}
	def := d.def
	if d.get != nil {
		def = d.get(defaultBroker)
	}
	return def, def != ""
}

// staticValue returns the value the properties file or overrides gave.
func (b *Broker) staticValue(name string) (string, bool) {
	if v, ok := b.Raw[name]; ok {
		return strings.TrimSpace(v), true
	}
	d, ok := brokerDefsByName[name]
	if !ok || d.get == nil {
		return "", false
	}
	// A typed field counts as set when code built the config with it
	// changed (config.Default() then a field assignment, as tests and
	// sluice bench do), unless the properties set it through another
	// member of its family.
	switch name {
	case "log.retention.ms":
		if b.anySet("log.retention.minutes", "log.retention.hours") {
			return "", false
		}
	case "log.roll.ms":
		if b.anySet("log.roll.hours") {
			return "", false
		}
	case "log.dirs":
		if b.anySet("log.dir") {
			return "", false
		}
	}
	if v := d.get(b); v != d.get(defaultBroker) {
		return v, true
	}
	return "", false
}

func (b *Broker) anySet(names ...string) bool {
	for _, n := range names {
		if _, ok := b.Raw[n]; ok {
			return true
		}
	}
	return false
}

// typeOf is a broker config's Kafka type; a listener-prefixed name has
// its base config's type, and a custom name is UNKNOWN.
func typeOf(name string) int8 {
	if d, ok := brokerDefsByName[name]; ok {
		return d.typ
	}
	if base, ok := listenerBase(name); ok {
		if d, ok := brokerDefsByName[base]; ok {
			return d.typ
		}
	}
	return TypeUnknown
}

// entry describes one broker config of this broker as Kafka does: the
// value is the highest layer setting exactly name (null when none does,
// as for log.retention.ms when only log.retention.hours is given), the
// source is the first synonym's, sensitive for passwords and for names
// whose type is unknown.
func (b *Broker) entry(name string) Entry {
	typ := typeOf(name)
	e := Entry{Name: name, Type: typ, Source: SourceDefault, ReadOnly: !IsDynamicBrokerConfig(name),
		Sensitive: typ == TypeUnknown || isSensitiveType(typ), Synonyms: b.synonyms(name), Null: true}
	if d, ok := brokerDefsByName[name]; ok {
		e.Doc = d.doc
	}
	if len(e.Synonyms) > 0 {
		e.Value, e.Source, e.Null = e.Synonyms[0].Value, e.Synonyms[0].Source, false
	}
	return e
}

// Describe reports every broker config Kafka describes for a broker id
// resource: the whole catalogue (Sluice's configs and the Kafka configs it
// does not implement), then the custom names set statically or
// dynamically, each with its value, source and synonyms (entry).
func (b *Broker) Describe() []Entry {
	set := maps.Clone(b.Raw)
	if set == nil {
		set = map[string]string{}
	}
	if l := b.dyn.Load(); l != nil {
		maps.Copy(set, l.cluster)
		maps.Copy(set, l.perBroker)
	}
	out := make([]Entry, 0, len(brokerDefs)+len(set))
	for i := range brokerDefs {
		out = append(out, b.entry(brokerDefs[i].name))
	}
	for _, name := range describeOrder(set) {
		if _, known := brokerDefsByName[name]; !known {
			out = append(out, b.entry(name))
		}
	}
	return out
}
