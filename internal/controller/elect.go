package controller

import (
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Election types of ElectLeaders (Kafka's ElectionType).
const (
	ElectPreferred int8 = 0
	ElectUnclean   int8 = 1
)

// TopicPartitions names some partitions of a topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// PartitionResult is the outcome for one partition.
type PartitionResult struct {
	Partition int32
	Err       *Error // nil on success
}

// TopicResults are the outcomes for partitions of one topic.
type TopicResults struct {
	Topic      string
	Partitions []PartitionResult
}

// acceptableLeader reports whether broker id may lead: registered,
// unfenced and not in controlled shutdown (Kafka's isActive; brokers.go).
func acceptableLeader(im *metadata.Image, id int32) bool {
	b, ok := im.Brokers[id]
	return ok && b.Active()
}

// ElectLeaders runs leader elections like KRaft's ReplicationControlManager
// (partition_change.go has the rules): PREFERRED makes the first replica
// leader when it is in sync and active (ELECTION_NOT_NEEDED when it already
// leads, PREFERRED_LEADER_NOT_AVAILABLE when it cannot; a leaderless
// partition whose preferred replica cannot lead gets another in-sync
// active one, as Kafka's builder does); UNCLEAN elects a leader only for a
// partition that has none (ELECTION_NOT_NEEDED otherwise), preferring
// in-sync replicas and else any active one, whose ISR then becomes just
// itself, RECOVERING (ELIGIBLE_LEADERS_NOT_AVAILABLE if none is active). Unknown topics
// and partitions get UNKNOWN_TOPIC_OR_PARTITION. topics == nil means every
// partition of every topic, and then partitions that need no election are
// left out of the results. An unknown election type fails the whole
// request with INVALID_REQUEST. The PartitionChangeRecords of all elected
// partitions are appended as one batch.
func (c *Controller) ElectLeaders(electionType int8, topics []TopicPartitions) ([]TopicResults, *Error) {
	if electionType != ElectPreferred && electionType != ElectUnclean {
		return nil, errorf(kerr.InvalidRequest, "Unknown election type %d", electionType)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b := changeBatch{im: c.store.Image()}
	all := topics == nil
	if all {
		for _, name := range b.im.TopicNames() {
			t, _ := b.im.Topic(name)
			tp := TopicPartitions{Topic: name}
			for p := range t.Partitions {
				tp.Partitions = append(tp.Partitions, int32(p))
			}
			topics = append(topics, tp)
		}
	}
	var out []TopicResults
	for _, tp := range topics {
		tr := TopicResults{Topic: tp.Topic}
		for _, p := range tp.Partitions {
			rec, e := electLeader(b.im, tp.Topic, p, electionType)
			if all && e != nil && e.Code == kerr.ElectionNotNeeded.Code {
				continue
			}
			if rec != nil {
				e = b.add(*rec)
			}
			tr.Partitions = append(tr.Partitions, PartitionResult{Partition: p, Err: e})
		}
		if !all || len(tr.Partitions) > 0 {
			out = append(out, tr)
		}
	}
	if err := c.store.Append(b.recs...); err != nil {
		failAll(out, storeError(err))
		return out, nil
	}
	if len(b.recs) > 0 {
		c.logger.Info("leaders elected", "partitions", len(b.recs), "unclean", electionType == ElectUnclean)
	}
	return out, nil
}

// changeBatch gathers the PartitionChangeRecords of one request for a
// single Append. Each is applied to im as it is added, so that later
// partitions of the request (or a repeated one) see it.
type changeBatch struct {
	im   *metadata.Image
	recs []metadata.Record
}

// add applies rec to the batch's image and keeps it, or returns why the
// image refuses it.
func (b *changeBatch) add(rec metadata.PartitionChangeRecord) *Error {
	next, err := b.im.Apply([]metadata.Record{rec})
	if err != nil {
		return storeError(err)
	}
	b.im = next
	b.recs = append(b.recs, rec)
	return nil
}

// failAll replaces the success results with e (the batch was not written).
func failAll(out []TopicResults, e *Error) {
	for i := range out {
		for j := range out[i].Partitions {
			if out[i].Partitions[j].Err == nil {
				out[i].Partitions[j].Err = e
			}
		}
	}
}

// lookupPartition returns the topic and partition, or Kafka's
// UNKNOWN_TOPIC_OR_PARTITION.
func lookupPartition(im *metadata.Image, topic string, p int32) (*metadata.TopicImage, metadata.PartitionImage, *Error) {
	t, ok := im.Topic(topic)
	if !ok {
		return nil, metadata.PartitionImage{}, errorf(kerr.UnknownTopicOrPartition, "No such topic as %s", topic)
	}
	if p < 0 || int(p) >= len(t.Partitions) {
		return nil, metadata.PartitionImage{}, errorf(kerr.UnknownTopicOrPartition, "No such partition as %s-%d", topic, p)
	}
	return t, t.Partitions[p], nil
}

// electLeader returns the record electing a leader for topic-p, or why not
// (Kafka's ReplicationControlManager.electLeader).
func electLeader(im *metadata.Image, topic string, p int32, electionType int8) (*metadata.PartitionChangeRecord, *Error) {
	t, part, e := lookupPartition(im, topic, p)
	if e != nil {
		return nil, e
	}
	hasLeader := part.Leader != metadata.NoLeader
	if electionType == ElectPreferred && hasLeader && part.Leader == part.Replicas[0] ||
		electionType == ElectUnclean && hasLeader {
		return nil, errorf(kerr.ElectionNotNeeded, "Leader election not needed for topic partition.")
	}
	pc := newPartitionChange(im, t, p)
	pc.election = electPreferred
	if electionType == ElectUnclean {
		pc.election = electUnclean
	}
	rec := pc.build()
	switch {
	case rec != nil:
		return rec, nil
	case electionType == ElectPreferred:
		return nil, errorf(kerr.PreferredLeaderNotAvailable, "The preferred leader was not available.")
	}
	return nil, errorf(kerr.EligibleLeadersNotAvailable, "Eligible topic partition leaders are not available.")
}

// electUncleanLeaders elects a leader for every leaderless partition of a
// topic that allows unclean elections (Kafka's periodic unclean election
// check): a partition that lost its leader while the topic did not allow
// it gets one within a lease tick of unclean.leader.election.enable being
// turned on. Only the active controller elects.
func (c *Controller) electUncleanLeaders() {
	if !anyLeaderless(c.store.Image()) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active() {
		return
	}
	im := c.store.Image()
	var recs []metadata.Record
	forEachPartition(im, func(t *metadata.TopicImage, i int32, p metadata.PartitionImage) {
		if p.Leader != metadata.NoLeader || !c.uncleanEnabled(t) {
			return
		}
		pc := newPartitionChange(im, t, i)
		pc.election = electUnclean
		if rec := pc.build(); rec != nil {
			recs = append(recs, *rec)
		}
	})
	if len(recs) == 0 {
		return
	}
	if err := c.store.Append(recs...); err != nil {
		c.logger.Warn("unclean leader election failed; retrying", "err", err)
		return
	}
	c.logger.Warn("unclean leader election: leaders elected from outside the ISR", "partitions", len(recs))
}

// anyLeaderless reports whether some partition has no leader.
func anyLeaderless(im *metadata.Image) bool {
	for _, t := range im.TopicsByID {
		for _, p := range t.Partitions {
			if p.Leader == metadata.NoLeader {
				return true
			}
		}
	}
	return false
}
