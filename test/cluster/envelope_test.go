package cluster

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAdminForwardedInEnvelope: admin requests sent to brokers that are
// not the active controller are answered by the controller (KIP-590), so
// two brokers racing to create one topic give one success and one
// TOPIC_ALREADY_EXISTS, exactly as on a single controller. And the
// Envelope API itself: the controller answers a wrapped CreateTopics with
// the inner response; a broker that is not the controller answers
// NOT_CONTROLLER.
func TestAdminForwardedInEnvelope(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	lead, others := c.quorumLeaderAndOthers(t)

	for i := range 10 {
		name := fmt.Sprintf("race-%d", i)
		codes := make([]int16, 2)
		var wg sync.WaitGroup
		for j, nd := range others {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[j] = createTopicOn(t, nd, name)
			}()
		}
		wg.Wait()
		ok, exists := 0, 0
		for _, code := range codes {
			switch code {
			case 0:
				ok++
			case kerr.TopicAlreadyExists.Code:
				exists++
			}
		}
		if ok != 1 || exists != 1 {
			t.Fatalf("%s created through brokers %d and %d at once: codes %v, want one success and one TOPIC_ALREADY_EXISTS",
				name, others[0].id, others[1].id, codes)
		}
	}

	// The Envelope itself, as a broker would send it.
	create := kmsg.NewPtrCreateTopicsRequest()
	create.SetVersion(5)
	create.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "enveloped", 2, 1
	create.Topics = append(create.Topics, rt)
	framed := kmsg.NewRequestFormatter(kmsg.FormatterClientID("envelope-test")).AppendRequest(nil, create, 77)
	principal := kmsg.NewDefaultPrincipalData()
	principal.Type, principal.Name = "User", "ANONYMOUS"
	env := kmsg.NewPtrEnvelopeRequest()
	env.RequestData = framed[4:]
	env.RequestPrincipal = principal.AppendTo(binary.BigEndian.AppendUint16(nil, 0))
	env.ClientHostAddress = []byte{127, 0, 0, 1}

	send := func(nd *node) *kmsg.EnvelopeResponse {
		cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		resp, err := cl.SeedBrokers()[0].Request(ctx(t), env)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.EnvelopeResponse)
	}
	if r := send(others[0]); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("Envelope to broker %d (not the controller): error %d, want NOT_CONTROLLER", others[0].id, r.ErrorCode)
	}
	r := send(c.nodes[lead-1])
	if r.ErrorCode != 0 {
		t.Fatalf("Envelope to the controller: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if corr := int32(binary.BigEndian.Uint32(r.ResponseData)); corr != 77 {
		t.Fatalf("inner correlation id %d", corr)
	}
	inner := kmsg.NewPtrCreateTopicsResponse()
	inner.SetVersion(5)
	body := r.ResponseData[4:]
	if inner.IsFlexible() {
		body = body[1:]
	}
	if err := inner.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if len(inner.Topics) != 1 || inner.Topics[0].ErrorCode != 0 || inner.Topics[0].NumPartitions != 2 {
		t.Fatalf("inner CreateTopics response %+v", inner.Topics)
	}
}

// createTopicOn sends CreateTopics for name (1 partition) to nd itself
// and returns the topic's error code.
func createTopicOn(t testing.TB, nd *node, name string) int16 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		t.Error(err)
		return -1
	}
	return resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
}

// TestAutoCreateThroughController: two brokers that are not the
// controller auto-create the same topics at once (Metadata with
// AllowAutoTopicCreation); both send CreateTopics to the active controller,
// so each answer is the topic or LEADER_NOT_AVAILABLE (just created),
// never an error, and every broker ends up with one topic id.
func TestAutoCreateThroughController(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	_, others := c.quorumLeaderAndOthers(t)
	for i := range 5 {
		name := fmt.Sprintf("auto-%d", i)
		var wg sync.WaitGroup
		for _, nd := range others {
			wg.Add(1)
			go func() {
				defer wg.Done()
				md, err := autoCreateOn(t, nd, name)
				if err != nil {
					t.Error(err)
					return
				}
				if code := md.Topics[0].ErrorCode; code != 0 && code != kerr.LeaderNotAvailable.Code {
					t.Errorf("auto-creating %s through broker %d: %v", name, nd.id, kerr.ErrorForCode(code))
				}
			}()
		}
		wg.Wait()
		waitFor(t, 10*time.Second, "every broker to agree on "+name, func() error {
			var id [16]byte
			for j, nd := range c.nodes {
				md, err := metadataOf(t, nd, name)
				if err != nil {
					return err
				}
				mt := md.Topics[0]
				if mt.ErrorCode != 0 {
					return kerr.ErrorForCode(mt.ErrorCode)
				}
				if j > 0 && mt.TopicID != id {
					return fmt.Errorf("broker %d has topic id %x, another %x", nd.id, mt.TopicID, id)
				}
				id = mt.TopicID
			}
			return nil
		})
	}
}

// autoCreateOn sends nd itself a Metadata request for name that allows
// auto-creation.
func autoCreateOn(t testing.TB, nd *node, name string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// quorumLeaderAndOthers waits for an agreed quorum leader and returns its
// id and the other nodes.
func (c *testCluster) quorumLeaderAndOthers(t testing.TB) (int32, []*node) {
	lead := agreedLeader(t, c.nodes, -1)
	var others []*node
	for _, nd := range c.nodes {
		if nd.id != lead {
			others = append(others, nd)
		}
	}
	return lead, others
}
