package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// PartitionStat is one hosted partition's state at scrape time.
type PartitionStat struct {
	Topic       string
	Partition   int32
	Size        int64 // bytes of its segments
	StartOffset int64
	EndOffset   int64 // log end offset
	HighWater   int64
	// Follower: this broker does not lead the partition (leadercount).
	Follower bool
	// UnderReplicated: this broker leads it and its ISR is smaller than
	// its replica set.
	UnderReplicated bool
	// UnderMinISR, AtMinISR: this broker leads it and its ISR is smaller
	// than, or equal to, its effective min.insync.replicas (the topic's
	// value capped at the replica count, as Kafka's effectiveMinIsr).
	UnderMinISR, AtMinISR bool
	// Lag is, on a follower, the leader's HW minus this log's end at the
	// last replica fetch answer (Kafka's FetcherLagMetrics ConsumerLag);
	// LagKnown is false on a leader or before the first answer.
	Lag      int64
	LagKnown bool
}

// GroupLag is one committed offset of a consumer group and its lag.
type GroupLag struct {
	Group     string
	Topic     string
	Partition int32
	Committed int64
	Lag       int64
}

// State is read at each scrape (never on a request path).
type State struct {
	Partitions func() []PartitionStat
	Groups     func() []GroupLag // nil or returning nil: no lag series
	Controller bool
	// IsController reports, at scrape time, whether this node leads the
	// metadata quorum (the active controller); it overrides Controller.
	IsController func() bool
	Connections  func() int
	MemoryPool   func() MemoryPoolStat // nil: no memory pool series
	// ReplicaMaxLag is the largest lag, in offsets, of a partition this
	// broker follows behind its leader's HW (nil: no series).
	ReplicaMaxLag func() int64
	// OfflinePartitions counts the partitions without a leader in the
	// metadata image; read only while this node is the active controller
	// (Kafka reports 0 elsewhere). Nil: no series.
	OfflinePartitions func() int
	// ReplicationByteRate is the measured rate of throttled replication
	// bytes, leader and follower side (KIP-73). Nil: no series.
	ReplicationByteRate func() (leader, follower float64)
}

// The replication throttles' measured rates (KIP-73).
var (
	leaderReplRate = prometheus.NewDesc("kafka_server_leaderreplication_byte_rate",
		"Bytes/s this broker sent as a leader for throttled replicas (Kafka's LeaderReplication byte-rate).", nil, nil)
	followerReplRate = prometheus.NewDesc("kafka_server_followerreplication_byte_rate",
		"Bytes/s this broker fetched as a follower for throttled replicas (Kafka's FollowerReplication byte-rate).", nil, nil)
)

var (
	logSize = prometheus.NewDesc("kafka_log_log_size", "Bytes of a partition's log segments (Kafka's Log Size).",
		[]string{"topic", "partition"}, nil)
	logStart = prometheus.NewDesc("kafka_log_log_logstartoffset", "A partition's log start offset.",
		[]string{"topic", "partition"}, nil)
	logEnd = prometheus.NewDesc("kafka_log_log_logendoffset", "A partition's log end offset.",
		[]string{"topic", "partition"}, nil)
	highWater = prometheus.NewDesc("kafka_cluster_partition_highwatermark", "A partition's high watermark (records below it are visible).",
		[]string{"topic", "partition"}, nil)
	partitionCount  = prometheus.NewDesc("kafka_server_replicamanager_partitioncount", "Partitions hosted by this broker.", nil, nil)
	leaderCount     = prometheus.NewDesc("kafka_server_replicamanager_leadercount", "Partitions this broker leads.", nil, nil)
	underReplicated = prometheus.NewDesc("kafka_server_replicamanager_underreplicatedpartitions",
		"Partitions whose ISR is smaller than their replica set (always 0 on a single node).", nil, nil)
	activeController = prometheus.NewDesc("kafka_controller_kafkacontroller_activecontrollercount",
		"1 if this broker is the active controller.", nil, nil)
	groupOffset = prometheus.NewDesc("kafka_consumergroup_current_offset", "A consumer group's committed offset.",
		[]string{"consumergroup", "topic", "partition"}, nil)
	groupLag = prometheus.NewDesc("kafka_consumergroup_lag", "High watermark minus a consumer group's committed offset.",
		[]string{"consumergroup", "topic", "partition"}, nil)
	underMinISR = prometheus.NewDesc("kafka_server_replicamanager_underminisrpartitioncount",
		"Partitions this broker leads whose ISR is smaller than min.insync.replicas (acks=all writes fail with NOT_ENOUGH_REPLICAS).", nil, nil)
	atMinISR = prometheus.NewDesc("kafka_server_replicamanager_atminisrpartitioncount",
		"Partitions this broker leads whose ISR is exactly min.insync.replicas (one more loss stops acks=all writes).", nil, nil)
	offlinePartitions = prometheus.NewDesc("kafka_controller_kafkacontroller_offlinepartitionscount",
		"Partitions without a leader, on the active controller (0 on other nodes).", nil, nil)
	consumerLag = prometheus.NewDesc("kafka_server_fetcherlagmetrics_consumerlag",
		"A followed partition's lag in offsets behind its leader's high watermark, at the last replica fetch answer.",
		[]string{"topic", "partition"}, nil)
	connections   = prometheus.NewDesc("kafka_server_socketservermetrics_connection_count", "Open client connections.", nil, nil)
	replicaMaxLag = prometheus.NewDesc("kafka_server_replicafetchermanager_maxlag",
		"Largest lag in offsets of a followed partition behind its leader's high watermark.", nil, prometheus.Labels{"clientid": "Replica"})
)

type stateCollector struct{ s State }

// gatherer is Registry plus the scrape-time state of one broker (several
// brokers may share a process in tests; the counters are process-wide).
func gatherer(s State) prometheus.Gatherer {
	own := prometheus.NewRegistry()
	own.MustRegister(&stateCollector{s})
	return prometheus.Gatherers{Registry, own}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{logSize, logStart, logEnd, highWater, partitionCount, leaderCount,
		underReplicated, underMinISR, atMinISR, offlinePartitions, consumerLag, activeController, groupOffset, groupLag, connections, replicaMaxLag, leaderReplRate, followerReplRate} {
		ch <- d
	}
	for _, d := range memPoolDescs {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var parts []PartitionStat
	if c.s.Partitions != nil {
		parts = c.s.Partitions()
	}
	leaders, under, underMin, atMin := 0, 0, 0, 0
	for _, p := range parts {
		if !p.Follower {
			leaders++
		}
		if p.UnderReplicated {
			under++
		}
		if p.UnderMinISR {
			underMin++
		}
		if p.AtMinISR {
			atMin++
		}
		idx := strconv.Itoa(int(p.Partition))
		if p.LagKnown {
			gauge(consumerLag, float64(p.Lag), p.Topic, idx)
		}
		gauge(logSize, float64(p.Size), p.Topic, idx)
		gauge(logStart, float64(p.StartOffset), p.Topic, idx)
		gauge(logEnd, float64(p.EndOffset), p.Topic, idx)
		gauge(highWater, float64(p.HighWater), p.Topic, idx)
	}
	gauge(partitionCount, float64(len(parts)))
	gauge(leaderCount, float64(leaders))
	gauge(underReplicated, float64(under))
	gauge(underMinISR, float64(underMin))
	gauge(atMinISR, float64(atMin))
	if c.s.ReplicaMaxLag != nil {
		gauge(replicaMaxLag, float64(c.s.ReplicaMaxLag()))
	}
	if c.s.ReplicationByteRate != nil {
		l, f := c.s.ReplicationByteRate()
		gauge(leaderReplRate, l)
		gauge(followerReplRate, f)
	}
	ctl := 0.0
	if c.s.Controller || (c.s.IsController != nil && c.s.IsController()) {
		ctl = 1
	}
	gauge(activeController, ctl)
	if c.s.OfflinePartitions != nil {
		offline := 0
		if ctl == 1 {
			offline = c.s.OfflinePartitions()
		}
		gauge(offlinePartitions, float64(offline))
	}
	if c.s.Connections != nil {
		gauge(connections, float64(c.s.Connections()))
	}
	collectMemoryPool(ch, c.s.MemoryPool)
	if c.s.Groups != nil {
		for _, g := range c.s.Groups() {
			idx := strconv.Itoa(int(g.Partition))
			gauge(groupOffset, float64(g.Committed), g.Group, g.Topic, idx)
			gauge(groupLag, float64(g.Lag), g.Group, g.Topic, idx)
		}
	}
}
