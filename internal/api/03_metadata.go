package api

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(3, 0, 13, handleMetadata) }

// internalTopics are flagged is_internal, as Kafka does.
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true, "__share_group_state": true}

func handleMetadata(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	resp.ClusterID = &e.ClusterID
	resp.ControllerID = e.controllerID()
	img := e.Meta.Image()
	for _, lb := range e.liveBrokers(req, img) {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = lb.ID, lb.Host, lb.Port, lb.Rack
		resp.Brokers = append(resp.Brokers, b)
	}

	z := authorizer(e, req)
	if z.on() && r.Version >= 8 && r.Version <= 10 && r.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = 0
		if z.cluster(auth.OpDescribe) {
			resp.AuthorizedOperations = z.ops(auth.ResourceCluster, auth.ClusterName)
		}
	}
	// Before v1 an empty list means all topics; from v1 a null list does.
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		names := make([]string, 0, len(img.TopicsByName))
		for name := range img.TopicsByName {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if z.topic(auth.OpDescribe, name) { // unauthorized topics are left out
				resp.Topics = append(resp.Topics, z.withTopicOps(r, describeTopic(img, img.TopicsByName[name])))
			}
		}
		return server.Ready(&server.Response{Msg: resp})
	}
	autoCreate := e.Cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		var t *metadata.TopicImage
		if rt.Topic != nil {
			t = img.TopicsByName[*rt.Topic]
		} else if rt.TopicID != [16]byte{} {
			t = img.TopicsByID[metadata.UUID(rt.TopicID)]
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		if code := z.metadataTopicCode(r, rt, t, autoCreate); code != 0 {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.ErrorCode = rt.Topic, code
			if t != nil && rt.Topic == nil {
				mt.TopicID = t.ID
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if t == nil && rt.Topic != nil && autoCreate && !internalTopics[*rt.Topic] {
			_, cerr := e.Ctl.CreateTopic(controller.CreateTopicRequest{Name: *rt.Topic, NumPartitions: -1, ReplicationFactor: -1})
			if cerr == nil {
				// As Kafka: the request that triggers auto-creation is
				// answered LEADER_NOT_AVAILABLE with no partitions; the
				// client retries and the next Metadata shows the topic.
				// Clients rely on this: kafka-go's Conn.ReadPartitions on
				// a topic just deleted expects no partitions back.
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = kerr.LeaderNotAvailable.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if cerr.Code == kerr.TopicAlreadyExists.Code {
				img = e.Meta.Image()
				t = img.TopicsByName[*rt.Topic]
			} else {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = cerr.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, z.withTopicOps(r, describeTopic(img, t)))
	}
	return server.Ready(&server.Response{Msg: resp})
}

// describeTopic answers a topic as Kafka does: a partition without a
// leader has LEADER_NOT_AVAILABLE (clients retry), and replicas on fenced
// or unregistered brokers are listed offline.
func describeTopic(img *metadata.Image, t *metadata.TopicImage) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = internalTopics[t.Name]
	for i, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		for _, r := range p.Replicas {
			if b, ok := img.Brokers[r]; !ok || b.Fenced {
				mp.OfflineReplicas = append(mp.OfflineReplicas, r)
			}
		}
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
