package config

import (
	"strings"
	"testing"
)

func TestInterBrokerListenerName(t *testing.T) {
	base := map[string]string{
		"listeners":                      "CONTROLLER://127.0.0.1:9192,CLIENT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093",
		"listener.security.protocol.map": "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT",
		"process.roles":                  "broker,controller",
		"controller.listener.names":      "CONTROLLER",
		"controller.quorum.voters":       "1@127.0.0.1:9192",
	}
	with := func(kv ...string) map[string]string {
		p := map[string]string{}
		for k, v := range base {
			p[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"default skips the controller listener", with(), "CLIENT"},
		{"explicit, any case", with("inter.broker.listener.name", " internal "), "INTERNAL"},
		{"single node default", map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0"}, "PLAINTEXT"},
	} {
		b, err := Build(tc.props)
		if err != nil {
			t.Fatalf("%s: Build: %v", tc.name, err)
		}
		got, err := b.InterBrokerListenerName()
		if err != nil || got != tc.want {
			t.Errorf("%s: InterBrokerListenerName() = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		if v, _ := b.valueSource("inter.broker.listener.name"); tc.props["inter.broker.listener.name"] == "" && v != "" {
			t.Errorf("%s: unset key reads %q", tc.name, v)
		}
	}
	for _, tc := range []struct {
		name, value, wantMsg string
	}{
		{"unknown listener", "NOPE", "valid options are CLIENT,INTERNAL"},
		{"controller listener", "CONTROLLER", "is a controller listener"},
	} {
		_, err := Build(with("inter.broker.listener.name", tc.value))
		if err == nil || !strings.Contains(err.Error(), "inter.broker.listener.name") || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: Build error %v, want one naming inter.broker.listener.name and %q", tc.name, err, tc.wantMsg)
		}
	}
	if IsDynamicBrokerConfig("inter.broker.listener.name") {
		t.Error("inter.broker.listener.name is read-only in Kafka, not dynamic")
	}
}
