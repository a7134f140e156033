package controller

import (
	"testing"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

func qe(pairs ...*string) []metadata.QuotaEntityData {
	var out []metadata.QuotaEntityData
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, metadata.QuotaEntityData{Type: *pairs[i], Name: pairs[i+1]})
	}
	return out
}

func TestAlterClientQuotasValidation(t *testing.T) {
	e := newEnv(t, nil)
	user, client, ip := sp("user"), sp("client-id"), sp("ip")
	set := func(k string, v float64) []QuotaOp { return []QuotaOp{{Key: k, Value: v}} }
	cases := []struct {
		name string
		alt  QuotaAlteration
		code int16
	}{
		{"client ok", QuotaAlteration{qe(client, sp("c1")), set("producer_byte_rate", 1024)}, 0},
		{"user+client ok", QuotaAlteration{qe(user, sp("u"), client, nil), set("request_percentage", 12.5)}, 0},
		{"ip ok", QuotaAlteration{qe(ip, sp("10.0.0.1")), set("connection_creation_rate", 5)}, 0},
		{"empty entity", QuotaAlteration{nil, set("producer_byte_rate", 1)}, kerr.InvalidRequest.Code},
		{"unknown type", QuotaAlteration{qe(sp("group"), sp("g")), set("producer_byte_rate", 1)}, kerr.InvalidRequest.Code},
		{"empty name", QuotaAlteration{qe(user, sp("")), set("producer_byte_rate", 1)}, kerr.InvalidRequest.Code},
		{"ip with user", QuotaAlteration{qe(ip, nil, user, nil), set("connection_creation_rate", 1)}, kerr.InvalidRequest.Code},
		{"bad ip", QuotaAlteration{qe(ip, sp("not an ip")), set("connection_creation_rate", 1)}, kerr.InvalidRequest.Code},
		{"ip key on client", QuotaAlteration{qe(client, sp("c2")), set("connection_creation_rate", 1)}, kerr.InvalidRequest.Code},
		{"client key on ip", QuotaAlteration{qe(ip, nil), set("producer_byte_rate", 1)}, kerr.InvalidRequest.Code},
		{"unknown key", QuotaAlteration{qe(client, sp("c2")), set("bogus", 1)}, kerr.InvalidRequest.Code},
		{"fractional long", QuotaAlteration{qe(client, sp("c2")), set("consumer_byte_rate", 1.5)}, kerr.InvalidRequest.Code},
		{"fractional int", QuotaAlteration{qe(ip, nil), set("connection_creation_rate", 2.5)}, kerr.InvalidRequest.Code},
		{"zero", QuotaAlteration{qe(client, sp("c2")), set("producer_byte_rate", 0)}, kerr.InvalidRequest.Code},
		{"duplicate key", QuotaAlteration{qe(client, sp("c2")), []QuotaOp{{Key: "producer_byte_rate", Value: 1}, {Key: "producer_byte_rate", Remove: true}}}, kerr.InvalidRequest.Code},
	}
	for _, c := range cases {
		res := e.c.AlterClientQuotas([]QuotaAlteration{c.alt}, false)
		if len(res) != 1 {
			t.Fatalf("%s: %d results", c.name, len(res))
		}
		code := int16(0)
		if res[0].Err != nil {
			code = res[0].Err.Code
		}
		if code != c.code {
			t.Errorf("%s: code %d (%v), want %d", c.name, code, res[0].Err, c.code)
		}
	}
	img := e.store.Image()
	if n := len(img.ClientQuotas); n != 3 {
		t.Errorf("%d entities stored, want 3: %v", n, img.ClientQuotas)
	}
	if v, _ := img.ClientQuota(metadata.QuotaEntity{ClientID: metadata.Named("c1")}, "producer_byte_rate"); v != 1024 {
		t.Errorf("c1 = %v", v)
	}

	// A duplicate entity fails as a whole; validate_only writes nothing;
	// an unchanged value and the removal of a missing key write nothing.
	off := img.Offset
	res := e.c.AlterClientQuotas([]QuotaAlteration{
		{qe(client, sp("d")), set("producer_byte_rate", 1)},
		{qe(client, sp("d")), set("consumer_byte_rate", 1)},
	}, false)
	if len(res) != 1 || res[0].Err == nil || res[0].Err.Code != kerr.InvalidRequest.Code {
		t.Errorf("duplicate entity: %+v", res)
	}
	res = e.c.AlterClientQuotas([]QuotaAlteration{{qe(client, sp("v")), set("producer_byte_rate", 7)}}, true)
	if res[0].Err != nil {
		t.Errorf("validate only: %v", res[0].Err)
	}
	e.c.AlterClientQuotas([]QuotaAlteration{
		{qe(client, sp("c1")), set("producer_byte_rate", 1024)},
		{qe(client, sp("c1")), []QuotaOp{{Key: "consumer_byte_rate", Remove: true}}},
	}, false)
	if got := e.store.Image().Offset; got != off {
		t.Errorf("metadata offset moved from %d to %d", off, got)
	}
	res = e.c.AlterClientQuotas([]QuotaAlteration{{qe(client, sp("c1")), []QuotaOp{{Key: "producer_byte_rate", Remove: true}}}}, false)
	if res[0].Err != nil || len(e.store.Image().ClientQuotas) != 2 {
		t.Errorf("remove: %v, %v", res[0].Err, e.store.Image().ClientQuotas)
	}
}

func TestDescribeClientQuotasFilters(t *testing.T) {
	e := newEnv(t, nil)
	user, client, ip := sp("user"), sp("client-id"), sp("ip")
	alts := []QuotaAlteration{
		{qe(user, sp("alice")), []QuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{qe(user, sp("alice"), client, sp("app")), []QuotaOp{{Key: "producer_byte_rate", Value: 2}}},
		{qe(user, nil), []QuotaOp{{Key: "producer_byte_rate", Value: 3}}},
		{qe(client, nil), []QuotaOp{{Key: "consumer_byte_rate", Value: 4}}},
		{qe(ip, sp("127.0.0.1")), []QuotaOp{{Key: "connection_creation_rate", Value: 5}}},
	}
	for _, r := range e.c.AlterClientQuotas(alts, false) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	img := e.store.Image()
	count := func(f []QuotaFilter, strict bool) int {
		t.Helper()
		out, err := DescribeClientQuotas(img, f, strict)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		return len(out)
	}
	checks := []struct {
		f      []QuotaFilter
		strict bool
		want   int
	}{
		{nil, false, 5},
		{nil, true, 0},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchExact, Match: sp("alice")}}, false, 2},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchExact, Match: sp("alice")}}, true, 1},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchDefault}}, false, 1},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchSpecified}}, false, 3},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchSpecified}}, true, 2},
		{[]QuotaFilter{{EntityType: "client-id", MatchType: MatchSpecified}, {EntityType: "user", MatchType: MatchSpecified}}, true, 1},
		{[]QuotaFilter{{EntityType: "client-id", MatchType: MatchDefault}}, false, 1},
		{[]QuotaFilter{{EntityType: "ip", MatchType: MatchSpecified}}, false, 1},
	}
	for _, c := range checks {
		if got := count(c.f, c.strict); got != c.want {
			t.Errorf("%+v strict=%v: %d entries, want %d", c.f, c.strict, got, c.want)
		}
	}
	bad := []struct {
		f    []QuotaFilter
		code int16
	}{
		{[]QuotaFilter{{EntityType: "", MatchType: MatchSpecified}}, kerr.InvalidRequest.Code},
		{[]QuotaFilter{{EntityType: "group", MatchType: MatchSpecified}}, kerr.UnsupportedVersion.Code},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchExact}}, kerr.InvalidRequest.Code},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchDefault, Match: sp("x")}}, kerr.InvalidRequest.Code},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchSpecified, Match: sp("x")}}, kerr.InvalidRequest.Code},
		{[]QuotaFilter{{EntityType: "user", MatchType: 7}}, kerr.InvalidRequest.Code},
		{[]QuotaFilter{{EntityType: "user", MatchType: MatchSpecified}, {EntityType: "user", MatchType: MatchDefault}}, kerr.InvalidRequest.Code},
		{[]QuotaFilter{{EntityType: "ip", MatchType: MatchSpecified}, {EntityType: "user", MatchType: MatchDefault}}, kerr.InvalidRequest.Code},
	}
	for _, b := range bad {
		_, err := DescribeClientQuotas(img, b.f, false)
		if err == nil || err.Code != b.code {
			t.Errorf("%+v: %v, want code %d", b.f, err, b.code)
		}
	}
}
