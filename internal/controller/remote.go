package controller

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Topic creation the broker itself starts (auto-creation in Metadata, the
// coordinators' internal topics) goes to the active controller as a
// CreateTopics request, as Kafka's AutoTopicCreationManager sends it, so
// placement and validation happen on the one image every change is checked
// against. Admin requests from clients get there in an Envelope instead
// (api/58_envelope.go).

// SetRemote gives the controller a way to the active controller, used
// while this node is not the quorum leader. Nil (a single node): never.
func (c *Controller) SetRemote(send func(ctx context.Context, req kmsg.Request) (kmsg.Response, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remote = send
}

// remoteTimeout bounds a create sent to the active controller.
const remoteTimeout = 15 * time.Second

// createTopicRemote sends req to the active controller. ok is false when it
// could not be answered there (no controller reachable, not authorized,
// leadership moving): the caller then creates it through the local path,
// whose records the quorum leader validates again.
func (c *Controller) createTopicRemote(send func(context.Context, kmsg.Request) (kmsg.Response, error), req CreateTopicRequest) (res TopicResult, cerr *Error, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	kr := kmsg.NewPtrCreateTopicsRequest()
	kr.TimeoutMillis = int32(remoteTimeout / time.Millisecond)
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = req.Name, req.NumPartitions, req.ReplicationFactor
	for p, replicas := range req.Assignments {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = p, replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	overrides := map[string]string{}
	for k, v := range req.Configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = k, v
		rt.Configs = append(rt.Configs, rc)
		if v != nil {
			overrides[k] = *v
		}
	}
	kr.Topics = append(kr.Topics, rt)
	resp, err := send(ctx, kr)
	if err != nil {
		return res, nil, false
	}
	r := resp.(*kmsg.CreateTopicsResponse)
	if len(r.Topics) != 1 {
		return res, nil, false
	}
	t := r.Topics[0]
	switch t.ErrorCode {
	case 0:
	case kerr.TopicAlreadyExists.Code:
		c.awaitTopic(req.Name) // callers look it up next
		return res, errorf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", req.Name), true
	case kerr.NotController.Code, kerr.ClusterAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code,
		kerr.RequestTimedOut.Code, kerr.UnknownServerError.Code:
		return res, nil, false
	default:
		msg := ""
		if t.ErrorMessage != nil {
			msg = *t.ErrorMessage
		}
		return res, &Error{Code: t.ErrorCode, Message: msg}, true
	}
	res = TopicResult{Name: req.Name, ID: metadata.UUID(t.TopicID), NumPartitions: t.NumPartitions,
		ReplicationFactor: t.ReplicationFactor, Configs: config.DescribeTopic(c.cfg, overrides)}
	c.awaitTopic(req.Name)
	return res, nil, true
}

// awaitTopic waits (bounded) until this broker's image has topic: callers
// expect a created topic to be visible once CreateTopic returns, as the
// local path's Append guarantees.
func (c *Controller) awaitTopic(name string) {
	deadline := time.Now().Add(remoteTimeout)
	for time.Now().Before(deadline) {
		if _, found := c.store.Image().Topic(name); found {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
