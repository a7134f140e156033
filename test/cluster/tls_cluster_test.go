package cluster

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// Inter-broker and controller traffic over TLS (issue #19): every node
// has its inter-broker listener SSL (named by
// security.inter.broker.protocol, Kafka's rule) and its CONTROLLER
// listener SSL, both with mutual TLS (ssl.client.auth=required) against
// one CA; clients stay on PLAINTEXT. Each node's keystore is its client
// certificate when it dials another, so its principal there is
// User:CN=broker-N.

// tlsCluster starts n nodes so configured, the inter-broker listener
// named SSL; keystore gives node i's keystore file for it (the CONTROLLER
// listener gets its own from ctlKeystore).
func tlsCluster(t *testing.T, ca *certAuthority, n int, keystore, ctlKeystore func(i int) string, opts ...testcluster.Option) *testcluster.Cluster {
	t.Helper()
	return tlsClusterOn(t, "SSL", ca, n, keystore, ctlKeystore, opts...)
}

// tlsClusterOn is tlsCluster with the inter-broker listener named (and
// so, by Kafka's default map, of protocol) inter: SSL or SASL_SSL.
func tlsClusterOn(t *testing.T, inter string, ca *certAuthority, n int, keystore, ctlKeystore func(i int) string, opts ...testcluster.Option) *testcluster.Cluster {
	t.Helper()
	base := []testcluster.Option{
		testcluster.WithListener(inter),
		testcluster.WithProp("security.inter.broker.protocol", inter),
		testcluster.WithProp("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:SSL"),
		testcluster.WithProp("ssl.keystore.type", "PEM"),
		testcluster.WithProp("ssl.truststore.type", "PEM"),
		testcluster.WithProp("ssl.truststore.location", ca.truststore()),
		testcluster.WithProp("ssl.client.auth", "required"),
	}
	for i := range n {
		base = append(base,
			testcluster.WithNodeProp(i, "listener.name."+strings.ToLower(inter)+".ssl.keystore.location", keystore(i)),
			testcluster.WithNodeProp(i, "listener.name.controller.ssl.keystore.location", ctlKeystore(i)))
	}
	return testcluster.New(t, n, append(base, opts...)...)
}

func brokerCN(i int) string { return fmt.Sprintf("broker-%d", i+1) }

// waitISR waits until every running node shows topic-0 led by a broker
// other than not (-1: any) with exactly isr as its ISR (order aside).
func waitISR(c *testcluster.Cluster, topic string, not int32, isr ...int32) {
	slices.Sort(isr)
	waitState(c, -1, topic, func(leader int32, got []int32) error {
		got = slices.Sorted(slices.Values(got))
		if leader < 0 || leader == not || !slices.Equal(got, isr) {
			return fmt.Errorf("leader %d ISR %v, want ISR %v", leader, got, isr)
		}
		return nil
	})
}

// TestTLSInterBrokerReplication: with the authorizer on and every
// principal but the brokers' certificates denied CLUSTER_ACTION, an RF 3
// topic with min.insync.replicas=3 takes acks=all writes (the followers'
// fetches over TLS are authorized as User:CN=broker-N, a super user), and
// after its leader stops the records are read from the new leader.
func TestTLSInterBrokerReplication(t *testing.T) {
	t.Parallel()
	ca := newCertAuthority(t, "cluster-ca")
	ks := func(i int) string { return ca.keystore(t, brokerCN(i), localhost, nil) }
	c := tlsCluster(t, ca, 3, ks, ks,
		testcluster.WithProp("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		testcluster.WithProp("super.users", "User:CN=broker-1;User:CN=broker-2;User:CN=broker-3"),
		testcluster.WithProp("allow.everyone.if.no.acl.found", "true"))

	// The test's clients (PLAINTEXT, User:ANONYMOUS) may do anything on
	// the cluster but act as a broker: were the brokers' inter-broker
	// principal not their certificate's DN, replication would stop here.
	denyAnonymousClusterAction(t, c)
	replicateAndFailOver(t, c, "tls-repl")
}

// denyAnonymousClusterAction lets User:ANONYMOUS do anything on the
// cluster resource but CLUSTER_ACTION (the brokers' own requests).
func denyAnonymousClusterAction(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	adm := c.Admin(t)
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:ANONYMOUS").AllowHosts().Clusters().Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Deny("User:ANONYMOUS").DenyHosts().Clusters().Operations(kadm.OpClusterAction).ResourcePatternType(kadm.ACLPatternLiteral),
	} {
		res, err := adm.CreateACLs(ctx(t), b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL %+v: %v", r, r.Err)
			}
		}
	}

}

// replicateAndFailOver writes to an RF 3 topic with min.insync.replicas=3
// and acks=all, stops its leader and reads the records from the new one.
func replicateAndFailOver(t *testing.T, c *testcluster.Cluster, topic string) {
	t.Helper()
	const n = 20
	ids := []int32{1, 2, 3}
	tcCreateAssigned(t, c, topic, ids, map[string]string{"min.insync.replicas": "3"})
	waitISR(c, topic, -1, ids...)
	// A follower whose fetches were refused would leave the ISR and the
	// writes would fail NOT_ENOUGH_REPLICAS: bound the producer's retries.
	produceTo(t, producer(t, c, kgo.RecordDeliveryTimeout(10*time.Second)), topic, 0, values("tls", n)...)

	old, _, err := partitionState(c, 0, topic)
	if err != nil {
		t.Fatal(err)
	}
	c.Stop(int(old - 1))
	var rest []int32
	for _, id := range ids {
		if id != old {
			rest = append(rest, id)
		}
	}
	waitISR(c, topic, old, rest...)
	got := consumePartition(t, c, topic, 0, n)
	if !slices.Equal(got, values("tls", n)) {
		t.Errorf("read from the new leader %v, want %v", got, values("tls", n))
	}
}

// TestTLSUntrustedBrokerCannotJoin: a broker restarted with an
// inter-broker certificate from a CA the others do not trust cannot
// register (it stays fenced and out of the ISR), and the nodes it tried
// log why; given a trusted certificate again it rejoins.
func TestTLSUntrustedBrokerCannotJoin(t *testing.T) {
	t.Parallel()
	ca, rogue := newCertAuthority(t, "cluster-ca"), newCertAuthority(t, "rogue-ca")
	keystores := map[int]string{}
	ks := func(i int) string { keystores[i] = ca.keystore(t, brokerCN(i), localhost, nil); return keystores[i] }
	ctlKs := func(i int) string { return ca.keystore(t, brokerCN(i), localhost, nil) }
	c := tlsCluster(t, ca, 3, ks, ctlKs)

	const topic = "tls-untrusted"
	ids := []int32{1, 2, 3}
	tcCreateAssigned(t, c, topic, ids, nil)
	waitISR(c, topic, -1, ids...)

	v := victim(t, c)
	vid := c.Node(v).ID()
	good, err := os.ReadFile(keystores[v])
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(rogue.keystore(t, brokerCN(v), localhost, nil))
	if err != nil {
		t.Fatal(err)
	}
	c.Stop(v)
	writePEM(t, keystores[v], bad)
	// Start waits (twice the session timeout and a bit) for an
	// unfencing that cannot come, then serves while it keeps trying.
	if err := c.RestartErr(v); err != nil {
		t.Fatalf("restart with an untrusted certificate: %v", err)
	}
	if err := c.FencedErr(v); err != nil {
		t.Errorf("broker with an untrusted certificate was let in: %v", err)
	}
	var rest []int32
	for _, id := range ids {
		if id != vid {
			rest = append(rest, id)
		}
	}
	waitISR(c, topic, -1, rest...)
	c.WaitFor("a log line naming the refused certificate", func() error {
		for j := range c.N() {
			if j == v {
				continue
			}
			for _, line := range strings.Split(c.Node(j).Logs(), "\n") {
				if strings.Contains(line, "TLS handshake failed") && strings.Contains(line, "listener=SSL") &&
					strings.Contains(line, "unknown authority") {
					return nil
				}
			}
		}
		return fmt.Errorf("no node logged a refused handshake on listener SSL")
	})

	c.Stop(v)
	writePEM(t, keystores[v], good)
	c.Restart(v)
	waitISR(c, topic, -1, ids...)
}

// TestTLSHostVerificationOff: certificates that name no address of the
// nodes (a DNS name only) are refused under Kafka's default
// ssl.endpoint.identification.algorithm=https (tlsconf's TestClientDial)
// and accepted with it empty: the cluster forms and replicates.
func TestTLSHostVerificationOff(t *testing.T) {
	t.Parallel()
	ca := newCertAuthority(t, "cluster-ca")
	ks := func(i int) string { return ca.keystore(t, brokerCN(i), nil, []string{brokerCN(i) + ".invalid"}) }
	c := tlsCluster(t, ca, 3, ks, ks, testcluster.WithProp("ssl.endpoint.identification.algorithm", ""))
	const topic = "tls-nohost"
	ids := []int32{1, 2, 3}
	tcCreateAssigned(t, c, topic, ids, map[string]string{"min.insync.replicas": "3"})
	waitISR(c, topic, -1, ids...)
	produceTo(t, producer(t, c), topic, 0, values("nohost", 5)...)
	if got := consumePartition(t, c, topic, 0, 5); !slices.Equal(got, values("nohost", 5)) {
		t.Errorf("read %v", got)
	}
}

// TestSASLSSLInterBrokerReplication: on a SASL_SSL inter-broker listener
// the brokers log in with sasl.mechanism.inter.broker.protocol=PLAIN and
// the username and password of the listener's JAAS config (Kafka's way),
// over TLS with the listener's truststore; their principal there is that
// user, the only one allowed CLUSTER_ACTION, and replication and failover
// work as on SSL.
func TestSASLSSLInterBrokerReplication(t *testing.T) {
	t.Parallel()
	ca := newCertAuthority(t, "cluster-ca")
	ks := func(i int) string { return ca.keystore(t, brokerCN(i), localhost, nil) }
	c := tlsClusterOn(t, "SASL_SSL", ca, 3, ks, ks,
		testcluster.WithProp("listener.name.sasl_ssl.ssl.client.auth", "none"),
		testcluster.WithProp("listener.name.sasl_ssl.sasl.enabled.mechanisms", "PLAIN"),
		testcluster.WithProp("sasl.mechanism.inter.broker.protocol", "PLAIN"),
		testcluster.WithProp("listener.name.sasl_ssl.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="interbroker" password="s3cret" user_interbroker="s3cret";`),
		testcluster.WithProp("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		testcluster.WithProp("super.users", "User:interbroker"),
		testcluster.WithProp("allow.everyone.if.no.acl.found", "true"))
	denyAnonymousClusterAction(t, c)
	replicateAndFailOver(t, c, "sasl-ssl-repl")
}
