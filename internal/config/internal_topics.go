package config

import (
	"strconv"
	"strings"
)

// Kafka's replication settings of the internal topics (__consumer_offsets,
// __transaction_state, __share_group_state), read-only as in Kafka.
//
// Kafka's defaults (replication factor 3, transaction.state.log.min.isr and
// share.coordinator.state.topic.min.isr 2)
// cannot be met by one broker, and Kafka's single-node quickstart config
// sets them to 1. Sluice resolves the defaults the same way from
// process.roles: a node without process.roles is a single combined node
// and gets 1; a node with process.roles (a member of a KRaft cluster) gets
// Kafka's defaults. An explicit value always wins. A coordinator whose
// internal topic needs more brokers than are registered answers
// COORDINATOR_NOT_AVAILABLE until they are: it never creates the topic
// with fewer replicas.
//
// The value is computed by get, so DescribeConfigs reports the effective
// value: DEFAULT_CONFIG on a single node, STATIC_BROKER_CONFIG on a
// cluster node (the value differs from the single-node default).
const (
	OffsetsTopicReplicationFactorKey        = "offsets.topic.replication.factor"
	TransactionStateLogReplicationFactorKey = "transaction.state.log.replication.factor"
	TransactionStateLogMinISRKey            = "transaction.state.log.min.isr"
)

var internalTopicDefs = []brokerDef{
	internalTopicDef(OffsetsTopicReplicationFactorKey, TypeShort, "3",
		"Replication factor of __consumer_offsets, used when it is created; the group coordinator answers COORDINATOR_NOT_AVAILABLE until this many brokers are registered. Default 3 (Kafka's), or 1 on a node without process.roles (a single combined node, as Kafka's single-node quickstart config sets it)."),
	internalTopicDef(TransactionStateLogReplicationFactorKey, TypeShort, "3",
		"Replication factor of __transaction_state, used when it is created. Default 3 (Kafka's), or 1 on a node without process.roles."),
	internalTopicDef(TransactionStateLogMinISRKey, TypeInt, "2",
		"min.insync.replicas of __transaction_state. Default 2 (Kafka's), or 1 on a node without process.roles."),
	internalTopicDef(ShareStateTopicReplicationFactorKey, TypeShort, "3",
		"Replication factor of __share_group_state, used when it is created. Default 3 (Kafka's), or 1 on a node without process.roles."),
	internalTopicDef(ShareStateTopicMinISRKey, TypeInt, "2",
		"min.insync.replicas of __share_group_state, used when it is created. Default 2 (Kafka's), or 1 on a node without process.roles."),
}

// internalTopicDef is a property whose default depends on process.roles.
// Its value lives in Raw (set keeps nothing else); get resolves it.
func internalTopicDef(name string, typ int8, kafkaDefault, doc string) brokerDef {
	return brokerDef{name: name, typ: typ, check: atLeast(1), doc: doc,
		get: func(b *Broker) string { return b.internalTopicValue(name, kafkaDefault) },
		set: func(*Broker, string) {}}
}

// internalTopicValue is the explicit value of name, else the single-node
// default 1 without process.roles, else Kafka's default. A nil Broker
// gets Kafka's default.
func (b *Broker) internalTopicValue(name, kafkaDefault string) string {
	if b == nil {
		return kafkaDefault
	}
	if v, ok := b.Raw[name]; ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	// process.roles is static (never dynamic), so Raw is its value; reading
	// it through ProcessRoles would make the property table refer to itself.
	if len(splitList(b.Raw["process.roles"])) == 0 {
		return "1"
	}
	return kafkaDefault
}

func (b *Broker) internalTopicInt(name string) int64 {
	var v string
	if b == nil {
		v = brokerDefsByName[name].get(nil)
	} else {
		v, _ = b.valueSource(name)
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// OffsetsTopicReplicationFactor is offsets.topic.replication.factor.
func (b *Broker) OffsetsTopicReplicationFactor() int16 {
	return int16(b.internalTopicInt(OffsetsTopicReplicationFactorKey))
}

// TransactionStateLogReplicationFactor is
// transaction.state.log.replication.factor.
func (b *Broker) TransactionStateLogReplicationFactor() int16 {
	return int16(b.internalTopicInt(TransactionStateLogReplicationFactorKey))
}

// TransactionStateLogMinISR is transaction.state.log.min.isr.
func (b *Broker) TransactionStateLogMinISR() int32 {
	return int32(b.internalTopicInt(TransactionStateLogMinISRKey))
}

// ShareStateTopicMinISR is share.coordinator.state.topic.min.isr.
func (b *Broker) ShareStateTopicMinISR() int32 {
	return int32(b.internalTopicInt(ShareStateTopicMinISRKey))
}

// ShareStateTopicReplicationFactor is
// share.coordinator.state.topic.replication.factor.
func (b *Broker) ShareStateTopicReplicationFactor() int16 {
	return int16(b.internalTopicInt(ShareStateTopicReplicationFactorKey))
}
