package main

import (
	"strings"
	"testing"
)

// TestParseJAAS reads the login module lines Kafka's docs show, and
// rejects malformed ones with a reason.
func TestParseJAAS(t *testing.T) {
	module, opts, err := parseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required
		username="carol" password="p\"w;x" extra=bare;`)
	if err != nil || module != "org.apache.kafka.common.security.scram.ScramLoginModule" ||
		opts["username"] != "carol" || opts["password"] != `p"w;x` || opts["extra"] != "bare" {
		t.Fatalf("got %q %v %v", module, opts, err)
	}
	for in, want := range map[string]string{
		``:                                 "no login module class",
		`x.PlainLoginModule username="a";`: "want a flag",
		`x.PlainLoginModule required username="a"`:         "missing ';'",
		`x.PlainLoginModule required username="a;`:         "unterminated",
		`x.PlainLoginModule required username;`:            "want key=value",
		`x.PlainLoginModule required a="b"; y.Z required;`: "one login module only",
	} {
		if _, _, err := parseJAAS(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseJAAS(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestSASLMechanismChecks: the JAAS module must fit the mechanism and
// credentials must be there.
func TestSASLMechanismChecks(t *testing.T) {
	set := func(kv ...string) map[string]secSetting {
		m := map[string]secSetting{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = secSetting{kv[i+1], "test"}
		}
		return m
	}
	for _, c := range []struct {
		s    map[string]secSetting
		want string
	}{
		{set("sasl.mechanism", "PLAIN", "sasl.jaas.config", `a.ScramLoginModule required username="u" password="p";`), "takes .PlainLoginModule"},
		{set("sasl.mechanism", "SCRAM-SHA-256", "sasl.username", "u"), "needs a user name and a password"},
		{set("sasl.mechanism", "GSSAPI"), "want PLAIN"},
		{set("sasl.mechanism", "OAUTHBEARER"), "unsecuredLoginStringClaim_sub"},
	} {
		if _, err := saslMechanism(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.s, err, c.want)
		}
	}
	if _, err := saslMechanism(set("sasl.mechanism", "scram-sha-512", "sasl.username", "u", "sasl.password", "p")); err != nil {
		t.Errorf("scram with sasl.username/password: %v", err)
	}
}
