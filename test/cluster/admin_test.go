package cluster

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's enum values the admin requests carry.
const (
	resTopic, resBroker               = 2, 4 // ConfigResource types
	aclTopic, aclLiteral, aclAny      = 2, 3, 1
	aclRead, aclAllow                 = 3, 3
	configSet                         = 0 // IncrementalAlterConfigs op
	srcTopic, srcBroker, srcDefBroker = 1, 2, 3
	scramSHA256                       = 1
)

// TestAdminAtNonController: admin requests sent (as raw kmsg requests, so
// no client routing can send them to the controller instead) to a broker
// that is not the metadata quorum's leader work, and what they change is
// visible from every broker: CreateTopics (partitions spread over all
// three brokers), CreatePartitions, IncrementalAlterConfigs and
// DescribeConfigs on a topic, on the cluster-default broker resource and on
// the broker itself, CreateAcls/DescribeAcls/DeleteAcls,
// AlterClientQuotas/DescribeClientQuotas, AlterUserScramCredentials/
// DescribeUserScramCredentials, and DeleteTopics. (A Produce at a broker
// that does not lead the partition is TestPartitionsSpreadAndRouted's.)
func TestAdminAtNonController(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"allow.everyone.if.no.acl.found=true")
	ctl := agreedLeader(t, c.nodes, -1)
	var at *node
	for _, nd := range c.nodes {
		if nd.id != ctl {
			at = nd
			break
		}
	}
	// One client per node, each sending only to its node.
	clients := map[int32]*kgo.Client{}
	for _, nd := range c.nodes {
		clients[nd.id] = direct(t, nd)
	}
	cl := clients[at.id]
	md, err := metadataOf(t, at)
	if err != nil {
		t.Fatal(err)
	}
	if md.ControllerID != ctl {
		t.Fatalf("node %d names controller %d, the quorum leader is %d", at.id, md.ControllerID, ctl)
	}
	// everywhere polls check on every node until it holds.
	everywhere := func(what string, check func(nd *node) error) {
		t.Helper()
		waitFor(t, 10*time.Second, what+" on every node", func() error {
			for _, nd := range c.nodes {
				if err := check(nd); err != nil {
					return fmt.Errorf("node %d: %w", nd.id, err)
				}
			}
			return nil
		})
	}
	topic := "admin-topic"
	partitionsSeen := func(want int) func(nd *node) error {
		return func(nd *node) error {
			md, err := metadataOf(t, nd, topic)
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != want {
				return fmt.Errorf("%s not with %d partitions yet", topic, want)
			}
			leaders := map[int32]bool{}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader < 0 {
					return fmt.Errorf("partition %d has no leader", p.Partition)
				}
				leaders[p.Leader] = true
			}
			if len(leaders) != len(c.nodes) {
				return fmt.Errorf("%d partitions led by %d brokers only", want, len(leaders))
			}
			return nil
		}
	}

	t.Run("CreateTopics", func(t *testing.T) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 6, -1
		req.Topics = append(req.Topics, rt)
		if r := ask(t, cl, req).(*kmsg.CreateTopicsResponse).Topics[0]; r.ErrorCode != 0 {
			t.Fatalf("CreateTopics at node %d: %v", at.id, kerr.ErrorForCode(r.ErrorCode))
		}
		everywhere("6 partitions of "+topic, partitionsSeen(6))
	})

	t.Run("CreatePartitions", func(t *testing.T) {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, 9
		req.Topics = append(req.Topics, rt)
		if r := ask(t, cl, req).(*kmsg.CreatePartitionsResponse).Topics[0]; r.ErrorCode != 0 {
			t.Fatalf("CreatePartitions at node %d: %v", at.id, kerr.ErrorForCode(r.ErrorCode))
		}
		everywhere("9 partitions of "+topic, partitionsSeen(9))
	})

	t.Run("Configs", func(t *testing.T) {
		alter := func(typ kmsg.ConfigResourceType, name, key, value string) {
			t.Helper()
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = typ, name
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			rc.Name, rc.Op, rc.Value = key, configSet, kmsg.StringPtr(value)
			rr.Configs = append(rr.Configs, rc)
			req.Resources = append(req.Resources, rr)
			if r := ask(t, cl, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]; r.ErrorCode != 0 {
				t.Fatalf("IncrementalAlterConfigs %s %q at node %d: %v %v", key, name, at.id, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
			}
		}
		// describe returns name's value and source as nd describes it.
		describe := func(nd *node, typ kmsg.ConfigResourceType, name, key string) (string, kmsg.ConfigSource, error) {
			req := kmsg.NewPtrDescribeConfigsRequest()
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, []string{key}
			req.Resources = append(req.Resources, rr)
			r := ask(t, clients[nd.id], req).(*kmsg.DescribeConfigsResponse).Resources[0]
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				return "", 0, err
			}
			for _, cfg := range r.Configs {
				if cfg.Name == key && cfg.Value != nil {
					return *cfg.Value, cfg.Source, nil
				}
			}
			return "", 0, fmt.Errorf("%s not described", key)
		}
		want := func(typ kmsg.ConfigResourceType, name, key, value string, src kmsg.ConfigSource) func(nd *node) error {
			return func(nd *node) error {
				v, s, err := describe(nd, typ, name, key)
				if err == nil && (v != value || s != src) {
					err = fmt.Errorf("%s = %q (source %d), want %q (source %d)", key, v, s, value, src)
				}
				return err
			}
		}
		alter(resTopic, topic, "retention.ms", "123456")
		everywhere("the topic's retention.ms", want(resTopic, topic, "retention.ms", "123456", srcTopic))
		// The cluster-wide default of a broker config.
		alter(resBroker, "", "log.retention.bytes", "987654321")
		everywhere("the cluster default log.retention.bytes", want(resBroker, "", "log.retention.bytes", "987654321", srcDefBroker))
		everywhere("log.retention.bytes in effect", func(nd *node) error {
			return want(resBroker, strconv.Itoa(int(nd.id)), "log.retention.bytes", "987654321", srcDefBroker)(nd)
		})
		// A broker's own config: sent to that broker, as Kafka's admin
		// client does (a broker describes only itself); the others keep the
		// cluster default.
		alter(resBroker, strconv.Itoa(int(at.id)), "log.retention.bytes", "55555555")
		everywhere("the per-broker log.retention.bytes", func(nd *node) error {
			if nd == at {
				return want(resBroker, strconv.Itoa(int(nd.id)), "log.retention.bytes", "55555555", srcBroker)(nd)
			}
			return want(resBroker, strconv.Itoa(int(nd.id)), "log.retention.bytes", "987654321", srcDefBroker)(nd)
		})
	})

	t.Run("ACLs", func(t *testing.T) {
		filter := func() (typ kmsg.ACLResourceType, name *string, pattern kmsg.ACLResourcePatternType, principal, host *string) {
			return aclTopic, kmsg.StringPtr(topic), aclLiteral, kmsg.StringPtr("User:alice"), kmsg.StringPtr("*")
		}
		create := kmsg.NewPtrCreateACLsRequest()
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = aclTopic, topic, aclLiteral
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = "User:alice", "*", aclRead, aclAllow
		create.Creations = append(create.Creations, cr)
		if r := ask(t, cl, create).(*kmsg.CreateACLsResponse).Results[0]; r.ErrorCode != 0 {
			t.Fatalf("CreateAcls at node %d: %v %v", at.id, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
		acls := func(want int) func(nd *node) error {
			return func(nd *node) error {
				req := kmsg.NewPtrDescribeACLsRequest()
				req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host = filter()
				req.Operation, req.PermissionType = aclAny, aclAny
				r := ask(t, clients[nd.id], req).(*kmsg.DescribeACLsResponse)
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					return err
				}
				n := 0
				for _, res := range r.Resources {
					for _, a := range res.ACLs {
						if res.ResourceName == topic && a.Principal == "User:alice" && a.Operation == aclRead && a.PermissionType == aclAllow {
							n++
						}
					}
				}
				if n != want {
					return fmt.Errorf("%d matching ACLs, want %d", n, want)
				}
				return nil
			}
		}
		everywhere("the new ACL", acls(1))
		del := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType, f.Principal, f.Host = filter()
		f.Operation, f.PermissionType = aclAny, aclAny
		del.Filters = append(del.Filters, f)
		r := ask(t, cl, del).(*kmsg.DeleteACLsResponse).Results[0]
		if r.ErrorCode != 0 || len(r.MatchingACLs) != 1 {
			t.Fatalf("DeleteAcls at node %d: %v, %d matched", at.id, kerr.ErrorForCode(r.ErrorCode), len(r.MatchingACLs))
		}
		everywhere("the ACL gone", acls(0))
	})

	t.Run("ClientQuotas", func(t *testing.T) {
		req := kmsg.NewPtrAlterClientQuotasRequest()
		e := kmsg.NewAlterClientQuotasRequestEntry()
		ee := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ee.Type, ee.Name = "user", kmsg.StringPtr("alice")
		e.Entity = append(e.Entity, ee)
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = "producer_byte_rate", 1048576
		e.Ops = append(e.Ops, op)
		req.Entries = append(req.Entries, e)
		if r := ask(t, cl, req).(*kmsg.AlterClientQuotasResponse).Entries[0]; r.ErrorCode != 0 {
			t.Fatalf("AlterClientQuotas at node %d: %v %v", at.id, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
		everywhere("alice's quota", func(nd *node) error {
			req := kmsg.NewPtrDescribeClientQuotasRequest()
			comp := kmsg.NewDescribeClientQuotasRequestComponent()
			comp.EntityType, comp.MatchType, comp.Match = "user", 0, kmsg.StringPtr("alice") // exact
			req.Components = append(req.Components, comp)
			req.Strict = true
			r := ask(t, clients[nd.id], req).(*kmsg.DescribeClientQuotasResponse)
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				return err
			}
			if len(r.Entries) != 1 || len(r.Entries[0].Values) != 1 || r.Entries[0].Values[0].Key != "producer_byte_rate" ||
				r.Entries[0].Values[0].Value != 1048576 {
				return fmt.Errorf("described %+v", r.Entries)
			}
			return nil
		})
	})

	t.Run("ScramCredentials", func(t *testing.T) {
		salt := []byte("a salt of sixteen")
		salted, err := pbkdf2.Key(sha256.New, "alice-secret", salt, 4096, sha256.Size)
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "alice", scramSHA256, 4096, salt, salted
		req.Upsertions = append(req.Upsertions, up)
		if r := ask(t, cl, req).(*kmsg.AlterUserSCRAMCredentialsResponse).Results[0]; r.ErrorCode != 0 {
			t.Fatalf("AlterUserScramCredentials at node %d: %v %v", at.id, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
		everywhere("alice's SCRAM credential", func(nd *node) error {
			req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
			u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
			u.Name = "alice"
			req.Users = append(req.Users, u)
			r := ask(t, clients[nd.id], req).(*kmsg.DescribeUserSCRAMCredentialsResponse)
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				return err
			}
			if len(r.Results) != 1 || r.Results[0].ErrorCode != 0 || len(r.Results[0].CredentialInfos) != 1 ||
				r.Results[0].CredentialInfos[0].Mechanism != scramSHA256 || r.Results[0].CredentialInfos[0].Iterations != 4096 {
				return fmt.Errorf("described %+v", r.Results)
			}
			return nil
		})
	})

	t.Run("DeleteTopics", func(t *testing.T) {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = []string{topic}
		if r := ask(t, cl, req).(*kmsg.DeleteTopicsResponse).Topics[0]; r.ErrorCode != 0 {
			t.Fatalf("DeleteTopics at node %d: %v", at.id, kerr.ErrorForCode(r.ErrorCode))
		}
		everywhere(topic+" gone", func(nd *node) error {
			md, err := metadataOf(t, nd, topic)
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
				return fmt.Errorf("%s still listed", topic)
			}
			return nil
		})
	})
}
