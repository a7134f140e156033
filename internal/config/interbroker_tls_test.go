package config

import (
	"strings"
	"testing"
)

// TestInterBrokerProtocol: security.inter.broker.protocol names the
// inter-broker listener as in Kafka and cannot be combined with
// inter.broker.listener.name; SASL_SSL is refused for controller traffic
// while SSL is accepted.
func TestInterBrokerProtocol(t *testing.T) {
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:1,SSL://127.0.0.1:2,SASL_SSL://127.0.0.1:3"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	b, err := Build(base(map[string]string{"security.inter.broker.protocol": "SSL"}))
	if err != nil {
		t.Fatal(err)
	}
	if name, err := b.InterBrokerListenerName(); err != nil || name != "SSL" {
		t.Errorf("inter-broker listener %q, %v; want SSL", name, err)
	}
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"security.inter.broker.protocol": "SSL", "inter.broker.listener.name": "SSL"}, "only one of"},
		{map[string]string{"security.inter.broker.protocol": "SASL_PLAINTEXT"}, "security.inter.broker.protocol"},
	} {
		_, err := Build(base(tc.props))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.props, err, tc.want)
		}
	}
	ctl := map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2",
		"controller.listener.names":      "CONTROLLER",
		"process.roles":                  "broker,controller",
		"node.id":                        "1",
		"controller.quorum.voters":       "1@127.0.0.1:2",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:SSL",
	}
	if _, err := Build(ctl); err != nil {
		t.Errorf("SSL controller listener: %v", err)
	}
	ctl["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL"
	if _, err := Build(ctl); err == nil || !strings.Contains(err.Error(), "controller listener CONTROLLER uses SASL_SSL") {
		t.Errorf("SASL_SSL controller listener: %v", err)
	}
}
