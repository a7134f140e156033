package controller

import (
	"maps"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Kafka's internal topics.
const (
	ConsumerOffsetsTopic  = "__consumer_offsets"
	TransactionStateTopic = "__transaction_state"
	// ShareGroupStateTopic holds share-partition state (internal/share).
	ShareGroupStateTopic = "__share_group_state"
)

// MaxTopicNameLength is Kafka's limit (255 minus room for the partition
// directory suffix).
const MaxTopicNameLength = 249

// maxPartitionsPerRequest bounds the records one request may create.
const maxPartitionsPerRequest = 10000

// IsInternalTopic reports Kafka's internal topics.
func IsInternalTopic(name string) bool {
	return name == ConsumerOffsetsTopic || name == TransactionStateTopic || name == ShareGroupStateTopic
}

// ValidateTopicName applies Kafka's topic name rules: not empty, not "."
// or "..", at most 249 characters, only ASCII letters, digits, '.', '_'
// and '-'. The error code is INVALID_TOPIC_EXCEPTION.
func ValidateTopicName(name string) *Error {
	switch {
	case name == "":
		return errorf(kerr.InvalidTopicException, "Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return errorf(kerr.InvalidTopicException, "Topic name cannot be \".\" or \"..\"")
	case len(name) > MaxTopicNameLength:
		return errorf(kerr.InvalidTopicException,
			"Topic name is illegal, it can't be longer than %d characters, topic name: %s", MaxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errorf(kerr.InvalidTopicException,
				"Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// collision returns an existing topic whose name equals name once '.' is
// replaced by '_' (metric names cannot tell them apart), or "".
func collision(im *metadata.Image, name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	norm := strings.ReplaceAll(name, ".", "_")
	for other := range im.TopicsByName {
		if other != name && strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	return ""
}

// CreateTopicRequest is one topic of a CreateTopics request.
type CreateTopicRequest struct {
	Name              string
	NumPartitions     int32 // -1: num.partitions
	ReplicationFactor int16 // -1: default.replication.factor
	// Assignments gives the replicas of each partition explicitly (then
	// NumPartitions and ReplicationFactor must be -1).
	Assignments  map[int32][]int32
	Configs      map[string]*string
	ValidateOnly bool
}

// TopicResult describes a created (or validated) topic for the response.
type TopicResult struct {
	Name              string
	ID                metadata.UUID
	NumPartitions     int32
	ReplicationFactor int16
	Configs           []config.Entry
}

// CreateTopic validates req like Kafka's controller (name, existence,
// name collision, configs, partitions and replication) and, unless
// ValidateOnly, appends the TopicRecord, ConfigRecords and
// PartitionRecords as one batch. Each partition's leader is its first
// replica, with leader epoch 0 and all replicas in sync.
func (c *Controller) CreateTopic(req CreateTopicRequest) (TopicResult, *Error) {
	c.mu.Lock()
	send := c.remote
	c.mu.Unlock()
	if send != nil && !req.ValidateOnly && !c.store.QuorumStatus().IsLeader {
		// Never hold mu across the network call.
		if res, cerr, ok := c.createTopicRemote(send, req); ok {
			return res, cerr
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.store.Image()
	if e := ValidateTopicName(req.Name); e != nil {
		return TopicResult{}, e
	}
	if _, ok := im.Topic(req.Name); ok {
		return TopicResult{}, errorf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", req.Name)
	}
	if other := collision(im, req.Name); other != "" {
		return TopicResult{}, errorf(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", req.Name, other)
	}
	overrides := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(req.Configs)) {
		v := req.Configs[name]
		if v == nil {
			return TopicResult{}, errorf(kerr.InvalidConfig, "Null value not supported for topic configs: %s", name)
		}
		if err := config.ValidateTopicConfig(name, v); err != nil {
			return TopicResult{}, errorf(kerr.InvalidConfig, "%s", err.Error())
		}
		overrides[name] = *v
	}
	replicas, e := c.placement(im, req)
	if e != nil {
		return TopicResult{}, e
	}
	id, err := c.newUUID()
	if err != nil {
		return TopicResult{}, storeError(err)
	}
	res := TopicResult{
		Name: req.Name, ID: id, NumPartitions: int32(len(replicas)),
		ReplicationFactor: int16(len(replicas[0])),
		Configs:           config.DescribeTopic(c.cfg, overrides),
	}
	if req.ValidateOnly {
		return res, nil
	}
	recs := []metadata.Record{metadata.TopicRecord{Name: req.Name, ID: id}}
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		v := overrides[name]
		recs = append(recs, metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: req.Name, Name: name, Value: &v})
	}
	recs = appendPartitions(recs, id, 0, replicas)
	if err := c.store.Append(recs...); err != nil {
		return TopicResult{}, storeError(err)
	}
	c.logger.Info("topic created", "topic", req.Name, "id", id.String(), "partitions", res.NumPartitions,
		"replication_factor", res.ReplicationFactor)
	return res, nil
}

// appendPartitions creates partitions led by their first replica. As in
// Kafka, the ISR is every replica: all of them are empty, so all are in
// sync, and followers copy the leader from the first record on.
func appendPartitions(recs []metadata.Record, id metadata.UUID, first int32, replicas [][]int32) []metadata.Record {
	for i, r := range replicas {
		recs = append(recs, metadata.PartitionRecord{
			TopicID: id, Partition: first + int32(i), Replicas: r, ISR: slices.Clone(r), Leader: r[0],
		})
	}
	return recs
}

// placement returns the replicas of every partition of a new topic.
func (c *Controller) placement(im *metadata.Image, req CreateTopicRequest) ([][]int32, *Error) {
	if len(req.Assignments) > 0 {
		if req.NumPartitions != -1 || req.ReplicationFactor != -1 {
			return nil, errorf(kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
		}
		out := make([][]int32, len(req.Assignments))
		for p, r := range req.Assignments {
			if p < 0 || int(p) >= len(out) {
				return nil, errorf(kerr.InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence")
			}
			out[p] = r
		}
		if e := checkAssignments(im, out, len(out[0])); e != nil {
			return nil, e
		}
		return out, nil
	}
	n, rf := req.NumPartitions, int32(req.ReplicationFactor)
	if n == -1 {
		n = c.cfg.NumPartitions
	}
	if rf == -1 {
		rf = int32(c.cfg.DefaultReplicationFactor)
	}
	if n <= 0 {
		return nil, errorf(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	if n > maxPartitionsPerRequest {
		return nil, errorf(kerr.InvalidPartitions, "Cannot create %d partitions in one request (at most %d).", n, maxPartitionsPerRequest)
	}
	if rf <= 0 {
		return nil, errorf(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
	}
	return autoPlace(im, 0, n, rf)
}

// checkAssignments applies Kafka's manual assignment rules: non-empty,
// no duplicate brokers, registered brokers, rf replicas each.
func checkAssignments(im *metadata.Image, parts [][]int32, rf int) *Error {
	if len(parts) > maxPartitionsPerRequest {
		return errorf(kerr.InvalidPartitions, "Cannot create %d partitions in one request (at most %d).", len(parts), maxPartitionsPerRequest)
	}
	for _, r := range parts {
		if len(r) == 0 {
			return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
		}
		seen := map[int32]bool{}
		for _, b := range r {
			if seen[b] {
				return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", b)
			}
			seen[b] = true
			if _, ok := im.Brokers[b]; !ok {
				return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", b)
			}
		}
		if len(r) != rf {
			return errorf(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(r), rf)
		}
	}
	return nil
}

// DeleteTopic deletes the topic named name and returns its ID. Like
// Kafka's broker, it deletes internal topics too (only the kafka-topics
// tool refuses); the coordinators recreate them when next needed.
func (c *Controller) DeleteTopic(name string) (metadata.UUID, *Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.deletionEnabled(); e != nil {
		return metadata.UUID{}, e
	}
	t, ok := c.store.Image().Topic(name)
	if !ok {
		return metadata.UUID{}, errorf(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	return t.ID, c.remove(t)
}

// DeleteTopicByID deletes the topic with the given ID and returns its name.
func (c *Controller) DeleteTopicByID(id metadata.UUID) (string, *Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.deletionEnabled(); e != nil {
		return "", e
	}
	t, ok := c.store.Image().TopicByID(id)
	if !ok {
		return "", errorf(kerr.UnknownTopicID, "This server does not host this topic ID.")
	}
	return t.Name, c.remove(t)
}

func (c *Controller) deletionEnabled() *Error {
	if !c.cfg.DeleteTopicEnable {
		return errorf(kerr.TopicDeletionDisabled, "Topic deletion is disabled.")
	}
	return nil
}

func (c *Controller) remove(t *metadata.TopicImage) *Error {
	if err := c.store.Append(metadata.RemoveTopicRecord{TopicID: t.ID}); err != nil {
		return storeError(err)
	}
	c.logger.Info("topic deleted", "topic", t.Name, "id", t.ID.String())
	return nil
}

// CreatePartitions grows topic name to newTotal partitions. assignments,
// if not nil, gives the replicas of each new partition (one entry per new
// partition); otherwise new partitions get the topic's replication factor.
func (c *Controller) CreatePartitions(name string, newTotal int32, assignments [][]int32, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.store.Image()
	t, ok := im.Topic(name)
	if !ok {
		return errorf(kerr.UnknownTopicOrPartition, "Unable to find topic %s", name)
	}
	cur := int32(len(t.Partitions))
	switch {
	case newTotal < cur:
		return errorf(kerr.InvalidPartitions, "The topic %s currently has %d partition(s); %d would not be an increase.", name, cur, newTotal)
	case newTotal == cur:
		return errorf(kerr.InvalidPartitions, "Topic already has %d partition(s).", cur)
	}
	add := newTotal - cur
	if add > maxPartitionsPerRequest {
		return errorf(kerr.InvalidPartitions, "Cannot create %d partitions in one request (at most %d).", add, maxPartitionsPerRequest)
	}
	rf := len(t.Partitions[0].Replicas)
	var replicas [][]int32
	if assignments != nil {
		if len(assignments) != int(add) {
			return errorf(kerr.InvalidReplicaAssignment, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", add, len(assignments))
		}
		if e := checkAssignments(im, assignments, rf); e != nil {
			return e
		}
		replicas = assignments
	} else {
		var e *Error
		if replicas, e = autoPlace(im, cur, add, int32(rf)); e != nil {
			return e
		}
	}
	if validateOnly {
		return nil
	}
	if err := c.store.Append(appendPartitions(nil, t.ID, cur, replicas)...); err != nil {
		return storeError(err)
	}
	c.logger.Info("partitions created", "topic", name, "from", cur, "to", newTotal)
	return nil
}
