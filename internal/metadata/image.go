package metadata

import (
	"fmt"
	"maps"
	"slices"
	"sort"
)

// Image is an immutable snapshot of the cluster metadata after applying
// the metadata log up to Offset. Nothing reachable from an Image may be
// modified: Apply shares unchanged topics between images.
type Image struct {
	// Offset is the metadata log offset of the last applied raft entry
	// (its index - 1); -1 for the empty image. It only grows while a
	// node runs.
	Offset int64
	// Term is the raft term of the last applied entry.
	Term uint64

	TopicsByName map[string]*TopicImage
	TopicsByID   map[UUID]*TopicImage
	Brokers      map[int32]BrokerImage
	// BrokerConfigs holds dynamic broker configs by resource name: "" is
	// the cluster-wide default, otherwise a broker id in decimal.
	BrokerConfigs map[string]map[string]string
	// GroupConfigs holds dynamic group configs by group id (ConfigResource
	// type GROUP). Kafka keeps them independent of the group's existence.
	GroupConfigs map[string]map[string]string
	// Scram holds SCRAM credentials by user, then mechanism (scram.go).
	Scram map[string]map[int8]ScramCredential
	// ACLs holds the access control entries (acls.go); never nil.
	ACLs *ACLs
	// ClientQuotas holds the client quotas by entity, then key
	// (client_quotas.go).
	ClientQuotas map[QuotaEntity]map[string]float64
	// Features holds the feature levels UpdateFeatures finalized
	// (FeatureLevelRecord, features.go); nil until the first.
	Features map[string]int16
	// NextProducerID is the first producer id no broker has been given
	// (ProducerIdsRecord).
	NextProducerID int64
	// Removed is every topic removed so far (RemoveTopicRecord), newest
	// first, so that a partition directory a delete left behind (a crash
	// between the record and the directory's removal) can be told from one
	// whose topic the image never knew: the first is deleted, the second
	// is a stray and never is. Images share the chain, which only grows.
	// Nil when no topic was removed. (A snapshot that left it out would
	// make such leftovers strays, which is safe.)
	Removed *RemovedTopic
}

// RemovedTopic is one link of Image.Removed.
type RemovedTopic struct {
	Name string
	ID   UUID
	Prev *RemovedTopic
}

// RemovedTopicIDs returns the IDs of every topic removed so far.
func (im *Image) RemovedTopicIDs() map[UUID]bool {
	ids := map[UUID]bool{}
	for r := im.Removed; r != nil; r = r.Prev {
		ids[r.ID] = true
	}
	return ids
}

// TopicImage is one topic. Partitions[i] is partition i.
type TopicImage struct {
	Name       string
	ID         UUID
	Partitions []PartitionImage
	Configs    map[string]string // dynamic topic config overrides
}

// PartitionImage is the state of one partition. PartitionEpoch counts
// every change of the partition, LeaderEpoch every change of its leader
// (the PartitionChangeRecord invariant, records.go).
type PartitionImage struct {
	Replicas            []int32
	ISR                 []int32
	Leader              int32
	LeaderEpoch         int32
	PartitionEpoch      int32
	LeaderRecoveryState LeaderRecoveryState
	// AddingReplicas and RemovingReplicas describe an ongoing
	// reassignment (nil when none): Replicas is then the target plus the
	// replicas being removed, and the target is Replicas minus
	// RemovingReplicas.
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// Reassigning reports whether a reassignment of the partition is ongoing.
func (p PartitionImage) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// BrokerImage is a registered broker.
type BrokerImage struct {
	ID            int32
	Host          string
	Port          int32
	Rack          *string
	IncarnationID UUID
	// Endpoints are the advertised listeners (nil when registered by a
	// version 0 record: then Host and Port are its only endpoint).
	Endpoints []BrokerEndpoint
	// Epoch is the broker epoch of this registration (0 for one written
	// before epochs existed). Fenced brokers lead nothing and take no new
	// replicas; InControlledShutdown ones are moving their leaders away
	// (brokers.go).
	Epoch                int64
	Fenced               bool
	InControlledShutdown bool
}

// Endpoint returns the broker's advertised endpoint on listener. A broker
// registered without endpoints (version 0) has Host:Port on every
// listener; one with endpoints has none on a listener it does not list.
func (b BrokerImage) Endpoint(listener string) (host string, port int32, ok bool) {
	if b.Endpoints == nil {
		return b.Host, b.Port, true
	}
	for _, e := range b.Endpoints {
		if e.Name == listener {
			return e.Host, e.Port, true
		}
	}
	return "", 0, false
}

// Empty returns the image of an empty metadata log.
func Empty() *Image {
	return &Image{
		Offset:        -1,
		TopicsByName:  map[string]*TopicImage{},
		TopicsByID:    map[UUID]*TopicImage{},
		Brokers:       map[int32]BrokerImage{},
		BrokerConfigs: map[string]map[string]string{},
		GroupConfigs:  map[string]map[string]string{},
		Scram:         map[string]map[int8]ScramCredential{},
		ACLs:          emptyACLs,
		ClientQuotas:  map[QuotaEntity]map[string]float64{},
	}
}

// Topic returns the topic named name.
func (im *Image) Topic(name string) (*TopicImage, bool) {
	t, ok := im.TopicsByName[name]
	return t, ok
}

// TopicByID returns the topic with the given ID.
func (im *Image) TopicByID(id UUID) (*TopicImage, bool) {
	t, ok := im.TopicsByID[id]
	return t, ok
}

// TopicNames returns all topic names, sorted.
func (im *Image) TopicNames() []string {
	names := slices.Collect(maps.Keys(im.TopicsByName))
	sort.Strings(names)
	return names
}

// BrokerIDs returns the registered broker ids, sorted.
func (im *Image) BrokerIDs() []int32 {
	ids := slices.Collect(maps.Keys(im.Brokers))
	slices.Sort(ids)
	return ids
}

// Apply returns the image after applying recs in order, or an error (and
// no image) if any record breaks an invariant: a batch applies whole or
// not at all. The receiver is not modified; unchanged topics are shared.
func (im *Image) Apply(recs []Record) (*Image, error) {
	d := &delta{base: im, next: &Image{
		Offset:        im.Offset,
		Term:          im.Term,
		TopicsByName:  im.TopicsByName,
		TopicsByID:    im.TopicsByID,
		Brokers:       im.Brokers,
		BrokerConfigs: im.BrokerConfigs,
		GroupConfigs:  im.GroupConfigs,
		Scram:         im.Scram,
		ACLs:          im.ACLs,
		ClientQuotas:  im.ClientQuotas,
		Features:      im.Features,

		NextProducerID: im.NextProducerID,
		Removed:        im.Removed,
	}}
	for i, r := range recs {
		if err := d.apply(r); err != nil {
			return nil, fmt.Errorf("metadata: record %d (%s) of batch at offset %d: %w", i, r.Type(), im.Offset+1, err)
		}
		d.next.Offset++
	}
	d.finishACLs()
	return d.next, nil
}

// at returns the image moved to log offset offset and term without any
// other change (a raft entry with no records: a new leader's first entry,
// a configuration change).
func (im *Image) at(offset int64, term uint64) *Image {
	c := *im
	c.Offset, c.Term = offset, term
	return &c
}

// delta builds the next image, copying each map and topic at most once.
type delta struct {
	base                                   *Image
	next                                   *Image
	topicsCopied, brokersCopied, bcfCopied bool
	gcfCopied                              bool
	scramCopied                            bool
	quotasCopied                           bool
	featuresCopied                         bool
	aclIDs                                 map[UUID]ACL  // ACLs by id, once changed in this delta
	ownTopics                              map[UUID]bool // topics cloned (or created) in this delta
}

func (d *delta) copyTopicMaps() {
	if !d.topicsCopied {
		d.next.TopicsByName = maps.Clone(d.base.TopicsByName)
		d.next.TopicsByID = maps.Clone(d.base.TopicsByID)
		d.topicsCopied = true
		d.ownTopics = map[UUID]bool{}
	}
}

// mutableTopic returns a private copy of the topic with id, cloning it on
// first use in this delta.
func (d *delta) mutableTopic(id UUID) (*TopicImage, error) {
	t, ok := d.next.TopicsByID[id]
	if !ok {
		return nil, fmt.Errorf("unknown topic id %s", id)
	}
	d.copyTopicMaps()
	if d.ownTopics[id] {
		return t, nil
	}
	c := &TopicImage{Name: t.Name, ID: t.ID, Partitions: slices.Clone(t.Partitions), Configs: maps.Clone(t.Configs)}
	if c.Configs == nil {
		c.Configs = map[string]string{}
	}
	d.next.TopicsByName[c.Name] = c
	d.next.TopicsByID[id] = c
	d.ownTopics[id] = true
	return c, nil
}

func (d *delta) apply(r Record) error {
	switch r := r.(type) {
	case TopicRecord:
		return d.topic(r)
	case PartitionRecord:
		return d.partition(r)
	case PartitionChangeRecord:
		return d.partitionChange(r)
	case ConfigRecord:
		return d.config(r)
	case RemoveTopicRecord:
		t, ok := d.next.TopicsByID[r.TopicID]
		if !ok {
			return fmt.Errorf("remove of unknown topic id %s", r.TopicID)
		}
		d.copyTopicMaps()
		delete(d.next.TopicsByName, t.Name)
		delete(d.next.TopicsByID, r.TopicID)
		delete(d.ownTopics, r.TopicID)
		d.next.Removed = &RemovedTopic{Name: t.Name, ID: r.TopicID, Prev: d.next.Removed}
		return nil
	case ProducerIdsRecord:
		return d.producerIds(r)
	case UserScramCredentialRecord:
		return d.userScramCredential(r)
	case RemoveUserScramCredentialRecord:
		return d.removeUserScramCredential(r)
	case AccessControlEntryRecord:
		return d.accessControlEntry(r)
	case RemoveAccessControlEntryRecord:
		return d.removeAccessControlEntry(r)
	case ClientQuotaRecord:
		return d.clientQuota(r)
	case FeatureLevelRecord:
		return d.featureLevel(r)
	case RegisterBrokerRecord:
		return d.registerBroker(r)
	case FenceBrokerRecord:
		return d.changeBroker(r.ID, r.Epoch, FencingFence, ShutdownNone)
	case UnfenceBrokerRecord:
		return d.changeBroker(r.ID, r.Epoch, FencingUnfence, ShutdownNone)
	case BrokerRegistrationChangeRecord:
		return d.changeBroker(r.BrokerID, r.BrokerEpoch, r.Fenced, r.InControlledShutdown)
	case UnregisterBrokerRecord:
		return d.unregisterBroker(r)
	}
	return fmt.Errorf("unsupported record %T", r)
}

func (d *delta) topic(r TopicRecord) error {
	if r.Name == "" {
		return fmt.Errorf("empty topic name")
	}
	if r.ID.IsZero() {
		return fmt.Errorf("zero topic id for %q", r.Name)
	}
	if _, ok := d.next.TopicsByName[r.Name]; ok {
		return fmt.Errorf("topic %q already exists", r.Name)
	}
	if t, ok := d.next.TopicsByID[r.ID]; ok {
		return fmt.Errorf("topic id %s already used by %q", r.ID, t.Name)
	}
	d.copyTopicMaps()
	t := &TopicImage{Name: r.Name, ID: r.ID, Configs: map[string]string{}}
	d.next.TopicsByName[r.Name] = t
	d.next.TopicsByID[r.ID] = t
	d.ownTopics[r.ID] = true
	return nil
}

func (d *delta) partition(r PartitionRecord) error {
	t, err := d.mutableTopic(r.TopicID)
	if err != nil {
		return err
	}
	if r.Partition < 0 || int(r.Partition) > len(t.Partitions) {
		return fmt.Errorf("partition %d of %q would leave a gap (topic has %d)", r.Partition, t.Name, len(t.Partitions))
	}
	if len(r.Replicas) == 0 {
		return fmt.Errorf("partition %d of %q has no replicas", r.Partition, t.Name)
	}
	p := PartitionImage{Replicas: slices.Clone(r.Replicas), ISR: slices.Clone(r.ISR), Leader: r.Leader,
		LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch, LeaderRecoveryState: r.LeaderRecoveryState,
		AddingReplicas: cloneNonEmpty(r.AddingReplicas), RemovingReplicas: cloneNonEmpty(r.RemovingReplicas)}
	if int(r.Partition) == len(t.Partitions) {
		t.Partitions = append(t.Partitions, p)
	} else {
		t.Partitions[r.Partition] = p
	}
	return nil
}

func (d *delta) partitionChange(r PartitionChangeRecord) error {
	t, err := d.mutableTopic(r.TopicID)
	if err != nil {
		return err
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return fmt.Errorf("change of unknown partition %d of %q", r.Partition, t.Name)
	}
	p := t.Partitions[r.Partition]
	if r.Replicas != nil {
		if len(r.Replicas) == 0 {
			return fmt.Errorf("partition %d of %q would have no replicas", r.Partition, t.Name)
		}
		p.Replicas = slices.Clone(r.Replicas)
	}
	if r.ISR != nil {
		p.ISR = slices.Clone(r.ISR)
	}
	if r.AddingReplicas != nil {
		p.AddingReplicas = cloneNonEmpty(r.AddingReplicas)
	}
	if r.RemovingReplicas != nil {
		p.RemovingReplicas = cloneNonEmpty(r.RemovingReplicas)
	}
	if r.Leader != NoLeaderChange && r.Leader != p.Leader {
		p.Leader = r.Leader
		p.LeaderEpoch++
	}
	switch r.LeaderRecovery {
	case RecoveryToRecovered:
		p.LeaderRecoveryState = Recovered
	case RecoveryToRecovering:
		p.LeaderRecoveryState = Recovering
	}
	p.PartitionEpoch++
	t.Partitions[r.Partition] = p
	return nil
}

func (d *delta) config(r ConfigRecord) error {
	if r.Name == "" {
		return fmt.Errorf("empty config name")
	}
	switch r.ResourceType {
	case ResourceTopic:
		t, ok := d.next.TopicsByName[r.ResourceName]
		if !ok {
			return fmt.Errorf("config %s for unknown topic %q", r.Name, r.ResourceName)
		}
		t, _ = d.mutableTopic(t.ID)
		setConfig(t.Configs, r)
		return nil
	case ResourceBroker:
		setResourceConfig(ownConfigs(&d.next.BrokerConfigs, &d.bcfCopied), r)
		return nil
	case ResourceGroup:
		setResourceConfig(ownConfigs(&d.next.GroupConfigs, &d.gcfCopied), r)
		return nil
	}
	return fmt.Errorf("unsupported config resource type %d", r.ResourceType)
}

// ownConfigs is the copy-on-write step for a per-resource config map of
// the next image: the first time in a delta (*copied false) the outer map
// *m, still the base image's, is replaced by a copy (never nil); each
// resource's map is replaced, not changed, by setResourceConfig.
func ownConfigs(m *map[string]map[string]string, copied *bool) map[string]map[string]string {
	if !*copied {
		*m = maps.Clone(*m)
		if *m == nil {
			*m = map[string]map[string]string{}
		}
		*copied = true
	}
	return *m
}

// setResourceConfig applies r to its resource's configs in all, dropping
// the resource once it has none left.
func setResourceConfig(all map[string]map[string]string, r ConfigRecord) {
	m := maps.Clone(all[r.ResourceName])
	if m == nil {
		m = map[string]string{}
	}
	setConfig(m, r)
	if len(m) == 0 {
		delete(all, r.ResourceName)
	} else {
		all[r.ResourceName] = m
	}
}

func setConfig(m map[string]string, r ConfigRecord) {
	if r.Value == nil {
		delete(m, r.Name)
	} else {
		m[r.Name] = *r.Value
	}
}

// cloneNonEmpty clones s, or returns nil when it is empty, so an image
// never holds an empty non-nil list.
func cloneNonEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
