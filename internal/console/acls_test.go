package console

import (
	"net/url"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBindingOfRoundTrip: a row's delete link carries the whole binding,
// and reading it back gives the same binding and Kafka's enum values.
func TestBindingOfRoundTrip(t *testing.T) {
	want := aclBinding{ResourceType: "TOPIC", ResourceName: "a&b=c d", PatternType: "PREFIXED", Principal: "User:al ice",
		Host: "10.0.0.1", Operation: "DESCRIBE_CONFIGS", Permission: "DENY"}
	v, err := url.ParseQuery(string(want.Query()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := bindingOf(v)
	if err != nil || got != want {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, want)
	}
	rt, pt, op, perm, err := got.parsed()
	if err != nil || rt != kmsg.ACLResourceTypeTopic || pt != kmsg.ACLResourcePatternTypePrefixed ||
		op != kmsg.ACLOperationDescribeConfigs || perm != kmsg.ACLPermissionTypeDeny {
		t.Fatalf("parsed: %v %v %v %v %v", rt, pt, op, perm, err)
	}
}

// TestBindingOfRefuses: a form must name one binding; the filter-only
// values (ANY, MATCH) and missing parts are refused before any request.
func TestBindingOfRefuses(t *testing.T) {
	base := url.Values{"resource_type": {"TOPIC"}, "resource_name": {"t"}, "principal": {"User:a"}, "operation": {"READ"}, "permission": {"ALLOW"}}
	for _, c := range []struct{ key, value, want string }{
		{"principal", "", "principal"},
		{"resource_name", "", "resource name"},
		{"pattern_type", "MATCH", "pattern type"},
		{"permission", "ANY", "permission"},
		{"operation", "ANY", "operation"},
		{"operation", "FLY", "operation"},
		{"resource_type", "ANY", "resource type"},
	} {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		v.Set(c.key, c.value)
		b, err := bindingOf(v)
		if err == nil {
			_, _, _, _, err = b.parsed()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: err %v, want one naming %s", c.key, c.value, err, c.want)
		}
	}
	// Defaults: any host, a literal pattern, the cluster's one name.
	v := url.Values{"resource_type": {"CLUSTER"}, "principal": {"User:a"}, "operation": {"ALTER"}, "permission": {"ALLOW"}}
	b, err := bindingOf(v)
	if err != nil || b.Host != "*" || b.PatternType != "LITERAL" || b.ResourceName != "kafka-cluster" {
		t.Fatalf("defaults: %+v %v", b, err)
	}
}
