package config

import (
	"strings"
	"testing"
)

// TestProcessRoles: broker,controller and broker are accepted with the
// settings each needs; a broker-only node must name the voters and not be
// one; controller-only nodes are refused with the key to fix.
func TestProcessRoles(t *testing.T) {
	base := map[string]string{"node.id": "4", "listeners": "PLAINTEXT://127.0.0.1:9092"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	voters := "1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095"
	for _, tc := range []struct {
		name  string
		props map[string]string
		err   string // "" when valid
	}{
		{"broker only", with("process.roles", "broker", "controller.quorum.voters", voters), ""},
		{"broker only without voters", with("process.roles", "broker"), "controller.quorum.voters"},
		{"broker only but a voter", with("process.roles", "broker", "controller.quorum.voters", voters+",4@127.0.0.1:9096"), "process.roles"},
		{"controller only", with("process.roles", "controller", "controller.quorum.voters", voters), "controller-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Build(tc.props)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one naming %q", err, tc.err)
			}
			if tc.err == "" && !b.IsBrokerOnly() {
				t.Fatal("IsBrokerOnly false")
			}
		})
	}
}
