package broker

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/config"
)

// TestInterBrokerSASLConfig: a cluster node whose inter-broker listener
// is SASL gets the mechanism and credentials Kafka's configs name, and a
// gap stops it with the key to set; a single node needs none.
func TestInterBrokerSASLConfig(t *testing.T) {
	const jaas = `org.apache.kafka.common.security.plain.PlainLoginModule required username="ib" password="pw" user_ib="pw";`
	build := func(extra map[string]string) *Broker {
		t.Helper()
		props := map[string]string{
			"process.roles": "broker,controller", "node.id": "1", "controller.listener.names": "CONTROLLER",
			"controller.quorum.voters": "1@127.0.0.1:2,2@127.0.0.1:4",
			"listeners":                "SASL_PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2",
			"sasl.enabled.mechanisms":  "PLAIN,SCRAM-SHA-512",
		}
		for k, v := range extra {
			props[k] = v
		}
		cfg, err := config.Build(props)
		if err != nil {
			t.Fatal(err)
		}
		return New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	m, err := build(map[string]string{"sasl.mechanism.inter.broker.protocol": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas}).interBrokerSASL("SASL_PLAINTEXT")
	if err != nil || m == nil || m.Name() != "PLAIN" {
		t.Fatalf("PLAIN: %v, %v", m, err)
	}
	m, err = build(map[string]string{"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512", "sasl.jaas.config": jaas}).interBrokerSASL("SASL_PLAINTEXT")
	if err != nil || m == nil || m.Name() != "SCRAM-SHA-512" {
		t.Fatalf("SCRAM-SHA-512: %v, %v", m, err)
	}
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"sasl.jaas.config": jaas}, "sasl.mechanism.inter.broker.protocol=GSSAPI"},
		{map[string]string{"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256", "sasl.jaas.config": jaas}, "does not enable it"},
		{map[string]string{"sasl.mechanism.inter.broker.protocol": "PLAIN"}, "listener.name.sasl_plaintext.plain.sasl.jaas.config"},
		{map[string]string{"sasl.mechanism.inter.broker.protocol": "PLAIN",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required user_ib="pw";`}, "username and password"},
	} {
		if _, err := build(tc.props).interBrokerSASL("SASL_PLAINTEXT"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.props, err, tc.want)
		}
	}
	single := build(map[string]string{"controller.quorum.voters": "1@127.0.0.1:2", "sasl.jaas.config": jaas})
	if m, err := single.interBrokerSASL("SASL_PLAINTEXT"); m != nil || err != nil {
		t.Errorf("single node: %v, %v; want no inter-broker login", m, err)
	}
}
