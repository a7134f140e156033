package api

import (
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

// authz is one request's authorization context: the authorizer, the ACLs
// of the image current when the request arrived, and who is asking. Its
// zero value (no authorizer configured, authorizer.class.name empty)
// allows everything after a nil check; handlers build one with
// authorizer(e, req) and ask it with the KafkaApis check of their API.
type authz struct {
	a         *auth.Authorizer
	acls      *metadata.ACLs
	principal string
	host      string
}

// principalOf is the one place a request's principal comes from: on a SASL
// listener User:<the authenticated user> (the server authenticates before
// any request reaches a handler), else Kafka's User:ANONYMOUS.
func principalOf(req *server.Request) auth.Principal {
	if req != nil && req.Conn != nil && req.Conn.User != "" {
		return auth.Principal{Type: "User", Name: req.Conn.User}
	}
	return auth.Anonymous
}

// hostOf is the client's IP address, as ACL hosts name it.
func hostOf(req *server.Request) string {
	if req.Remote == nil {
		return ""
	}
	if a, ok := req.Remote.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	h, _, err := net.SplitHostPort(req.Remote.String())
	if err != nil {
		return req.Remote.String()
	}
	return h
}

// authorizer returns req's authorization context (the zero value when
// authorization is disabled).
func authorizer(e *Env, req *server.Request) authz {
	if e.Auth == nil {
		return authz{}
	}
	return authz{a: e.Auth, acls: e.Meta.Image().ACLs, principal: principalOf(req).String(), host: hostOf(req)}
}

// on reports whether an authorizer is configured.
func (z authz) on() bool { return z.a != nil }

// allow reports whether op on the resource is authorized.
func (z authz) allow(op, resourceType int8, name string) bool {
	return z.a == nil || z.a.Authorize(z.acls, z.principal, z.host, op, resourceType, name)
}

func (z authz) topic(op int8, name string) bool { return z.allow(op, auth.ResourceTopic, name) }
func (z authz) group(op int8, id string) bool   { return z.allow(op, auth.ResourceGroup, id) }
func (z authz) txnID(op int8, id string) bool   { return z.allow(op, auth.ResourceTransactionalID, id) }
func (z authz) cluster(op int8) bool            { return z.allow(op, auth.ResourceCluster, auth.ClusterName) }

// anyOfType reports whether op is authorized on some resource of the type
// (Kafka's authorizeByResourceType).
func (z authz) anyOfType(op, resourceType int8) bool {
	return z.a == nil || z.a.AuthorizeByResourceType(z.acls, z.principal, z.host, op, resourceType)
}

// ops is the authorized-operations bitfield of a resource.
func (z authz) ops(resourceType int8, name string) int32 {
	if z.a == nil {
		return auth.AllOperations(resourceType)
	}
	return z.a.AuthorizedOperations(z.acls, z.principal, z.host, resourceType, name)
}

// awaitGroupThen is awaitGroup with fix applied to the coordinator's
// answer (merging authorization failures into it).
func awaitGroupThen[T kmsg.Response](req *server.Request, ch <-chan T, fix func(T)) server.Reply {
	return func() *server.Response {
		select {
		case resp := <-ch:
			fix(resp)
			return &server.Response{Msg: resp}
		case <-req.Conn.Done:
			return nil
		}
	}
}

// reply answers at once with msg.
func reply(msg kmsg.Response) server.Reply { return server.Ready(&server.Response{Msg: msg}) }

// transactionalBatches reports whether any partition's first record batch
// has the transactional attribute (Kafka checks every batch; producers
// never mix transactional and other batches in one partition's records).
func transactionalBatches(r *kmsg.ProduceRequest) bool {
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			// v2 batch: attributes (int16) at byte 21, transactional bit 0x10.
			if len(p.Records) > 22 && p.Records[16] == 2 && p.Records[22]&0x10 != 0 {
				return true
			}
		}
	}
	return false
}

// produceDenied is the whole-request check of Produce: transactional
// records need WRITE on the request's transactional id.
func (z authz) produceDenied(r *kmsg.ProduceRequest) bool {
	if z.a == nil || !transactionalBatches(r) {
		return false
	}
	return r.TransactionID == nil || !z.txnID(auth.OpWrite, *r.TransactionID)
}

// produceError answers every partition of r with code.
func produceError(r *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := kmsg.NewPtrProduceResponse()
	for _, rt := range r.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition, p.ErrorCode, p.BaseOffset = rp.Partition, code, -1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// metadataTopicCode is KafkaApis' Metadata check for one named topic (t is
// nil when it does not exist): TOPIC_AUTHORIZATION_FAILED without DESCRIBE
// on it, or when it would be auto-created without CREATE on the cluster or
// the topic.
func (z authz) metadataTopicCode(r *kmsg.MetadataRequest, rt kmsg.MetadataRequestTopic, t *metadata.TopicImage, autoCreate bool) int16 {
	if z.a == nil {
		return 0
	}
	name := ""
	switch {
	case t != nil:
		name = t.Name
	case rt.Topic != nil:
		name = *rt.Topic
	default:
		return 0
	}
	if !z.topic(auth.OpDescribe, name) {
		return kerr.TopicAuthorizationFailed.Code
	}
	if t == nil && autoCreate && !z.cluster(auth.OpCreate) && !z.topic(auth.OpCreate, name) {
		return kerr.TopicAuthorizationFailed.Code
	}
	return 0
}

// withTopicOps fills a Metadata topic's authorized operations when asked
// (v8+) and an authorizer is configured.
func (z authz) withTopicOps(r *kmsg.MetadataRequest, mt kmsg.MetadataResponseTopic) kmsg.MetadataResponseTopic {
	if z.a != nil && r.Version >= 8 && r.IncludeTopicAuthorizedOperations && mt.Topic != nil {
		mt.AuthorizedOperations = z.ops(auth.ResourceTopic, *mt.Topic)
	}
	return mt
}

// deleteTopicDenied is DeleteTopics' check: DESCRIBE and DELETE on the
// topic, named or given by id (an unknown id is left to the controller).
func (z authz) deleteTopicDenied(e *Env, name *string, id [16]byte) bool {
	if z.a == nil {
		return false
	}
	n := ""
	if name != nil {
		n = *name
	} else if t, ok := e.Meta.Image().TopicByID(metadata.UUID(id)); ok {
		n = t.Name
	} else {
		return false
	}
	return !z.topic(auth.OpDescribe, n) || !z.topic(auth.OpDelete, n)
}

// configDenied is the DescribeConfigs/AlterConfigs check of one resource:
// op on the topic (TOPIC_AUTHORIZATION_FAILED), on the group
// (GROUP_AUTHORIZATION_FAILED) or, for brokers and broker loggers, on the
// cluster (CLUSTER_AUTHORIZATION_FAILED).
func (z authz) configDenied(resourceType int8, name string, op int8) int16 {
	switch {
	case z.a == nil:
	case resourceType == resourceTopic:
		if !z.topic(op, name) {
			return kerr.TopicAuthorizationFailed.Code
		}
	case resourceType == resourceGroup:
		if !z.group(op, name) {
			return kerr.GroupAuthorizationFailed.Code
		}
	case resourceType == resourceBroker || resourceType == resourceBrokerLogger:
		if !z.cluster(op) {
			return kerr.ClusterAuthorizationFailed.Code
		}
	}
	return 0
}

// resourceBrokerLogger is Kafka's BROKER_LOGGER config resource type.
const resourceBrokerLogger = 8
