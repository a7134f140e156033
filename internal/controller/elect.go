package controller

import (
	"slices"

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

// ElectLeaders runs leader elections like KRaft's ReplicationControlManager:
// PREFERRED makes the first replica leader when it is in sync and alive
// (ELECTION_NOT_NEEDED when it already leads, PREFERRED_LEADER_NOT_AVAILABLE
// when it cannot); UNCLEAN elects a leader only for a partition that has
// none (ELECTION_NOT_NEEDED otherwise), preferring in-sync replicas and
// else any alive one, whose ISR then becomes just itself
// (ELIGIBLE_LEADERS_NOT_AVAILABLE if no replica is alive). Unknown topics
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

// electLeader returns the record electing a leader for topic-p, or why not.
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
	rec := &metadata.PartitionChangeRecord{TopicID: t.ID, Partition: p, Leader: metadata.NoLeaderChange}
	if electionType == ElectPreferred {
		pref := part.Replicas[0]
		if !slices.Contains(part.ISR, pref) || !acceptableLeader(im, pref) {
			return nil, errorf(kerr.PreferredLeaderNotAvailable, "The preferred leader was not available.")
		}
		rec.Leader = pref
		return rec, nil
	}
	for _, r := range part.Replicas {
		if slices.Contains(part.ISR, r) && acceptableLeader(im, r) {
			rec.Leader = r
			return rec, nil
		}
	}
	for _, r := range part.Replicas {
		if acceptableLeader(im, r) {
			rec.Leader, rec.ISR = r, []int32{r}
			return rec, nil
		}
	}
	return nil, errorf(kerr.EligibleLeadersNotAvailable, "Eligible topic partition leaders are not available.")
}
