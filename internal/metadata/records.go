// Package metadata owns the cluster metadata: the typed, versioned metadata
// records (the only way metadata changes), the immutable Image they build,
// and the Store that persists records in the metadata log
// (<log.dirs>/__cluster_metadata-0, a partition log of package log in
// which each Append is one Kafka v2 record batch whose record values are
// encoded metadata records) and publishes new images.
//
// The records mirror Kafka's KRaft metadata records (RegisterBrokerRecord,
// TopicRecord, PartitionRecord, ConfigRecord, PartitionChangeRecord,
// RemoveTopicRecord, ProducerIdsRecord, UserScramCredentialRecord,
// RemoveUserScramCredentialRecord, AccessControlEntryRecord,
// RemoveAccessControlEntryRecord, ClientQuotaRecord, FeatureLevelRecord,
// and the broker
// lifecycle's FenceBrokerRecord, UnfenceBrokerRecord,
// BrokerRegistrationChangeRecord, UnregisterBrokerRecord) and use Kafka's
// record type numbers. Today a single
// node appends them to its own log directly (Store.Append); later a Raft
// quorum (go.etcd.io/raft/v3) replicates the very same encoded records and
// Store applies what the quorum commits. Record encodings are therefore a
// compatibility surface: never change a version's layout, add a version.
//
// The metadata log is opened in strict recovery: a torn tail is truncated,
// any other damage stops Open (ErrDamaged) rather than silently forget the
// changes after it. Inspect and Repair (scan.go, inspect.go, repair.go)
// are the way back: they list the log, rewrite it from its intact batches
// and adopt back partition directories (partdirs.go) it no longer knows.
//
// Invariants kept by Image.Apply (a batch violating one is rejected whole):
// topic names and topic IDs are unique and IDs are never zero; partitions
// of a topic are dense 0..n-1; topic configs exist only for existing
// topics; Image.Offset is the metadata log offset of the last record
// applied (-1 for the empty image), each record taking one offset.
package metadata

import (
	"encoding/base64"
	"fmt"
)

// RecordType is the one-byte type tag of an encoded record; the values are
// Kafka's metadata record api keys.
type RecordType uint8

// Record types.
const (
	TypeRegisterBroker  RecordType = 0
	TypeTopic           RecordType = 2
	TypePartition       RecordType = 3
	TypeConfig          RecordType = 4
	TypePartitionChange RecordType = 5
	TypeRemoveTopic     RecordType = 9
)

func (t RecordType) String() string {
	switch t {
	case TypeRegisterBroker:
		return "RegisterBrokerRecord"
	case TypeTopic:
		return "TopicRecord"
	case TypePartition:
		return "PartitionRecord"
	case TypeConfig:
		return "ConfigRecord"
	case TypePartitionChange:
		return "PartitionChangeRecord"
	case TypeRemoveTopic:
		return "RemoveTopicRecord"
	case TypeProducerIds:
		return "ProducerIdsRecord"
	case TypeUserScramCredential:
		return "UserScramCredentialRecord"
	case TypeRemoveUserScramCredential:
		return "RemoveUserScramCredentialRecord"
	case TypeAccessControlEntry:
		return "AccessControlEntryRecord"
	case TypeRemoveAccessControlEntry:
		return "RemoveAccessControlEntryRecord"
	case TypeClientQuota:
		return "ClientQuotaRecord"
	case TypeFeatureLevel:
		return "FeatureLevelRecord"
	case TypeUnregisterBroker:
		return "UnregisterBrokerRecord"
	case TypeFenceBroker:
		return "FenceBrokerRecord"
	case TypeUnfenceBroker:
		return "UnfenceBrokerRecord"
	case TypeBrokerRegistrationChange:
		return "BrokerRegistrationChangeRecord"
	}
	return fmt.Sprintf("RecordType(%d)", uint8(t))
}

// Record is one metadata record. Implementations are the value types
// below; Encode/Decode convert them to and from bytes.
type Record interface {
	Type() RecordType
	// Version is the encoding version Encode writes.
	Version() uint8
	appendBody(b []byte) []byte
}

// UUID is a Kafka Uuid (topic IDs, incarnation IDs).
type UUID [16]byte

// IsZero reports the all-zero UUID, which Kafka reserves.
func (u UUID) IsZero() bool { return u == UUID{} }

// String renders the UUID as Kafka does: URL-safe base64 without padding.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// Kafka's ConfigResource types used in ConfigRecord.ResourceType.
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
	// ResourceGroup holds dynamic group configs (KIP-848/KIP-932
	// GroupConfig); a group need not exist to have configs.
	ResourceGroup int8 = 32
)

// Leader values in PartitionChangeRecord.
const (
	NoLeader       int32 = -1 // the partition has no leader
	NoLeaderChange int32 = -2 // the record does not change the leader
)

// RegisterBrokerRecord registers (or re-registers) a broker. Host and
// Port are its first listener's advertised endpoint (all that version 0
// holds); Endpoints (version 1) lists every listener's, as Kafka's
// RegisterBrokerRecord does, so clients on each listener are answered
// with that listener's address. Version 2 adds the broker epoch and the
// fencing state (KRaft's BrokerRegistration: a broker registers fenced
// with a new epoch, brokers.go); versions 0 and 1 decode as epoch 0,
// unfenced, which is what a registration meant before fencing existed.
type RegisterBrokerRecord struct {
	BrokerID      int32
	IncarnationID UUID // new for each registration with a changed endpoint
	Host          string
	Port          int32
	Rack          *string
	Endpoints     []BrokerEndpoint // nil: a version 0 record

	BrokerEpoch          int64 // version 2: the metadata offset of the registration
	Fenced               bool  // version 2
	InControlledShutdown bool  // version 2
}

// BrokerEndpoint is one advertised listener of a broker.
type BrokerEndpoint struct {
	Name             string // listener name, e.g. PLAINTEXT or SASL_PLAINTEXT
	Host             string
	Port             int32
	SecurityProtocol int16 // Kafka's SecurityProtocol id (SecurityPlaintext...)
}

// Kafka's SecurityProtocol ids.
const (
	SecurityPlaintext     int16 = 0
	SecuritySSL           int16 = 1
	SecuritySASLPlaintext int16 = 2
	SecuritySASLSSL       int16 = 3
)

// TopicRecord creates a topic. Its partitions follow as PartitionRecords.
type TopicRecord struct {
	Name string
	ID   UUID
}

// LeaderRecoveryState is Kafka's (KIP-704): a leader elected uncleanly
// (from outside the ISR) is RECOVERING until it tells the controller, in
// an AlterPartition, that it has RECOVERED; while RECOVERING its ISR is
// itself alone. The values are Kafka's.
type LeaderRecoveryState int8

// Leader recovery states.
const (
	Recovered  LeaderRecoveryState = 0
	Recovering LeaderRecoveryState = 1
)

func (s LeaderRecoveryState) String() string {
	if s == Recovering {
		return "RECOVERING"
	}
	return "RECOVERED"
}

// PartitionRecord creates a partition (Partition == current count) or
// replaces the whole state of an existing one. LeaderRecoveryState
// (version 1, written only when not Recovered) is Recovered in a version
// 0 record.
type PartitionRecord struct {
	TopicID             UUID
	Partition           int32
	Replicas            []int32
	ISR                 []int32
	Leader              int32
	LeaderEpoch         int32
	PartitionEpoch      int32
	LeaderRecoveryState LeaderRecoveryState
	// AddingReplicas and RemovingReplicas (version 2, Kafka's fields of
	// the same name) describe an ongoing reassignment; both empty when
	// none is.
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// LeaderRecoveryChange is a PartitionChangeRecord's change of the leader
// recovery state; the zero value changes nothing (Kafka's -1).
type LeaderRecoveryChange int8

// Leader recovery changes.
const (
	RecoveryUnchanged    LeaderRecoveryChange = 0
	RecoveryToRecovered  LeaderRecoveryChange = 1
	RecoveryToRecovering LeaderRecoveryChange = 2
)

// PartitionChangeRecord changes an existing partition. Nil slices,
// Leader == NoLeaderChange and LeaderRecovery == RecoveryUnchanged leave
// the field unchanged.
//
// INVARIANT (Kafka's epochs, kept by Image.Apply): applying a change bumps
// PartitionEpoch by one, always, so a writer that names the partition
// epoch it read (AlterPartition) is refused once anything changed since;
// LeaderEpoch is bumped only when the leader changes (an ISR shrink or
// expansion keeps it, as Kafka does since 3.6), so a leader's clients and
// followers are fenced only by a new leader. A controller writes a change
// record only when something changes.
type PartitionChangeRecord struct {
	TopicID        UUID
	Partition      int32
	Leader         int32
	ISR            []int32
	Replicas       []int32
	LeaderRecovery LeaderRecoveryChange // version 1
	// AddingReplicas and RemovingReplicas (version 2): nil leaves the
	// field unchanged, an empty slice clears it (reassignment done or
	// cancelled).
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// ConfigRecord sets (Value != nil) or deletes (Value == nil) one dynamic
// config of a topic (ResourceTopic, ResourceName = topic name) or a broker
// (ResourceBroker, ResourceName = broker id, or "" for the cluster default).
type ConfigRecord struct {
	ResourceType int8
	ResourceName string
	Name         string
	Value        *string
}

// RemoveTopicRecord deletes a topic with its partitions and configs.
type RemoveTopicRecord struct {
	TopicID UUID
}

// Type implements Record.
func (RegisterBrokerRecord) Type() RecordType { return TypeRegisterBroker }

// Type implements Record.
func (TopicRecord) Type() RecordType { return TypeTopic }

// Type implements Record.
func (PartitionRecord) Type() RecordType { return TypePartition }

// Type implements Record.
func (PartitionChangeRecord) Type() RecordType { return TypePartitionChange }

// Type implements Record.
func (ConfigRecord) Type() RecordType { return TypeConfig }

// Type implements Record.
func (RemoveTopicRecord) Type() RecordType { return TypeRemoveTopic }

// Version implements Record: 2 when the record carries an epoch or a
// fencing state, else 1 when it lists endpoints.
func (r RegisterBrokerRecord) Version() uint8 {
	if r.BrokerEpoch != 0 || r.Fenced || r.InControlledShutdown {
		return 2
	}
	if r.Endpoints != nil {
		return 1
	}
	return 0
}

// Version implements Record.
func (TopicRecord) Version() uint8 { return 0 }

// Version implements Record: 1 when the leader is recovering.
func (r PartitionRecord) Version() uint8 {
	if len(r.AddingReplicas) > 0 || len(r.RemovingReplicas) > 0 {
		return 2
	}
	if r.LeaderRecoveryState != Recovered {
		return 1
	}
	return 0
}

// Version implements Record: 1 when it changes the leader recovery state.
func (r PartitionChangeRecord) Version() uint8 {
	if r.AddingReplicas != nil || r.RemovingReplicas != nil {
		return 2
	}
	if r.LeaderRecovery != RecoveryUnchanged {
		return 1
	}
	return 0
}

// Version implements Record.
func (ConfigRecord) Version() uint8 { return 0 }

// Version implements Record.
func (RemoveTopicRecord) Version() uint8 { return 0 }
