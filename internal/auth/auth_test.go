package auth

import (
	"testing"

	"github.com/sluice-io/sluice/internal/metadata"
)

func acls(t *testing.T, list ...metadata.ACL) *metadata.ACLs {
	t.Helper()
	recs := make([]metadata.Record, len(list))
	for i, a := range list {
		recs[i] = metadata.AccessControlEntryRecord{ID: metadata.UUID{0: byte(i + 1), 15: 7}, ACL: a}
	}
	im, err := metadata.Empty().Apply(recs)
	if err != nil {
		t.Fatal(err)
	}
	return im.ACLs
}

func acl(rt int8, name string, pt int8, principal, host string, op, perm int8) metadata.ACL {
	return metadata.ACL{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: host, Operation: op, PermissionType: perm}
}

const alice, bob = "User:alice", "User:bob"

func TestAuthorizeMatching(t *testing.T) {
	set := acls(t,
		acl(ResourceTopic, "orders", PatternLiteral, alice, "*", OpRead, PermissionAllow),
		acl(ResourceTopic, "pay-", PatternPrefixed, alice, "*", OpWrite, PermissionAllow),
		acl(ResourceTopic, "pay-secret", PatternLiteral, alice, "*", OpWrite, PermissionDeny),
		acl(ResourceTopic, "*", PatternLiteral, WildcardPrincipal, "*", OpDescribeConfigs, PermissionAllow),
		acl(ResourceTopic, "hosted", PatternLiteral, bob, "10.0.0.1", OpAll, PermissionAllow),
		acl(ResourceGroup, "g", PatternLiteral, alice, "*", OpAlterConfigs, PermissionAllow),
		acl(ResourceTopic, "both", PatternLiteral, WildcardPrincipal, "*", OpAll, PermissionAllow),
		acl(ResourceTopic, "both", PatternLiteral, bob, "*", OpRead, PermissionDeny),
		acl(ResourceTopic, "reads", PatternLiteral, alice, "*", OpRead, PermissionDeny),
		acl(ResourceTopic, "reads", PatternLiteral, alice, "*", OpAlter, PermissionAllow),
	)
	a := New([]string{"User:admin"}, false)
	cases := []struct {
		principal, host string
		op, rt          int8
		name            string
		want            bool
	}{
		{alice, "1.1.1.1", OpRead, ResourceTopic, "orders", true},
		{alice, "1.1.1.1", OpDescribe, ResourceTopic, "orders", true}, // READ implies DESCRIBE
		{alice, "1.1.1.1", OpWrite, ResourceTopic, "orders", false},   // ACLs exist on the resource: deny
		{bob, "1.1.1.1", OpRead, ResourceTopic, "orders", false},
		{alice, "1.1.1.1", OpWrite, ResourceTopic, "pay-in", true},      // prefixed
		{alice, "1.1.1.1", OpDescribe, ResourceTopic, "pay-in", true},   // WRITE implies DESCRIBE
		{alice, "1.1.1.1", OpWrite, ResourceTopic, "pay-secret", false}, // DENY beats ALLOW
		{alice, "1.1.1.1", OpDescribe, ResourceTopic, "pay-secret", true},
		{alice, "1.1.1.1", OpWrite, ResourceTopic, "pa", false},
		{bob, "1.1.1.1", OpDescribeConfigs, ResourceTopic, "anything", true}, // wildcard name and principal
		{bob, "1.1.1.1", OpAlterConfigs, ResourceTopic, "anything", false},
		{bob, "10.0.0.1", OpDelete, ResourceTopic, "hosted", true}, // ALL, exact host
		{bob, "10.0.0.2", OpDelete, ResourceTopic, "hosted", false},
		{alice, "1.1.1.1", OpDescribeConfigs, ResourceGroup, "g", true}, // ALTER_CONFIGS implies DESCRIBE_CONFIGS
		{alice, "1.1.1.1", OpRead, ResourceGroup, "g", false},
		{alice, "1.1.1.1", OpRead, ResourceTopic, "both", true},
		{bob, "1.1.1.1", OpRead, ResourceTopic, "both", false},       // DENY of bob beats ALLOW of User:*
		{bob, "1.1.1.1", OpWrite, ResourceTopic, "both", true},       // the DENY is for READ only
		{alice, "1.1.1.1", OpDescribe, ResourceTopic, "reads", true}, // DENY READ does not deny DESCRIBE
		{alice, "1.1.1.1", OpRead, ResourceTopic, "reads", false},
		{"User:admin", "1.1.1.1", OpWrite, ResourceTopic, "pay-secret", true}, // super user
		{alice, "1.1.1.1", OpRead, ResourceTopic, "nobody", false},            // no ACLs, default deny
		{alice, "1.1.1.1", OpCreate, ResourceCluster, ClusterName, false},
	}
	for _, c := range cases {
		if got := a.Authorize(set, c.principal, c.host, c.op, c.rt, c.name); got != c.want {
			t.Errorf("%s@%s op %d on %d/%s: got %v", c.principal, c.host, c.op, c.rt, c.name, got)
		}
	}

	open := New(nil, true)
	if !open.Authorize(set, alice, "1.1.1.1", OpRead, ResourceGroup, "nobody") {
		t.Error("allow.everyone.if.no.acl.found: resource without ACLs denied")
	}
	if open.Authorize(set, alice, "1.1.1.1", OpWrite, ResourceTopic, "orders") {
		t.Error("allow.everyone.if.no.acl.found: resource with ACLs allowed")
	}
	// The "*" ACL applies to every topic, so no topic is without ACLs:
	// WRITE, which no ACL allows, is denied even on an otherwise unnamed topic.
	if open.Authorize(set, alice, "1.1.1.1", OpWrite, ResourceTopic, "nobody") {
		t.Error("wildcard ACL does not count as an ACL on the resource")
	}
}

func TestAuthorizeByResourceType(t *testing.T) {
	a := New([]string{"User:admin"}, false)
	empty := acls(t)
	if a.AuthorizeByResourceType(empty, alice, "h", OpWrite, ResourceTopic) {
		t.Error("no ACLs, default deny: allowed")
	}
	if !a.AuthorizeByResourceType(empty, "User:admin", "h", OpWrite, ResourceTopic) {
		t.Error("super user denied")
	}
	if !New(nil, true).AuthorizeByResourceType(empty, alice, "h", OpWrite, ResourceTopic) {
		t.Error("no ACLs, allow everyone: denied")
	}
	cases := []struct {
		set  *metadata.ACLs
		want bool
	}{
		{acls(t, acl(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, PermissionAllow)), true},
		{acls(t, acl(ResourceTopic, "t", PatternLiteral, alice, "*", OpRead, PermissionAllow)), false},
		{acls(t, acl(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, PermissionAllow),
			acl(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, PermissionDeny)), false},
		{acls(t, acl(ResourceTopic, "tx", PatternLiteral, alice, "*", OpWrite, PermissionAllow),
			acl(ResourceTopic, "t", PatternPrefixed, alice, "*", OpAll, PermissionDeny)), false},
		{acls(t, acl(ResourceTopic, "tx", PatternPrefixed, alice, "*", OpWrite, PermissionAllow),
			acl(ResourceTopic, "txy", PatternPrefixed, alice, "*", OpWrite, PermissionDeny)), true},
		{acls(t, acl(ResourceTopic, "*", PatternLiteral, WildcardPrincipal, "*", OpWrite, PermissionAllow)), true},
		{acls(t, acl(ResourceTopic, "t", PatternLiteral, alice, "*", OpWrite, PermissionAllow),
			acl(ResourceTopic, "*", PatternLiteral, alice, "*", OpWrite, PermissionDeny)), false},
		{acls(t, acl(ResourceTopic, "t", PatternLiteral, alice, "9.9.9.9", OpWrite, PermissionAllow)), false},
	}
	for i, c := range cases {
		if got := a.AuthorizeByResourceType(c.set, alice, "h", OpWrite, ResourceTopic); got != c.want {
			t.Errorf("case %d: got %v", i, got)
		}
	}
}

func TestAuthorizedOperations(t *testing.T) {
	set := acls(t, acl(ResourceGroup, "g", PatternLiteral, alice, "*", OpRead, PermissionAllow))
	a := New(nil, false)
	if got, want := a.AuthorizedOperations(set, alice, "h", ResourceGroup, "g"), int32(1<<OpRead|1<<OpDescribe); got != want {
		t.Errorf("group ops %b, want %b", got, want)
	}
	if got := AllOperations(ResourceGroup); got != 1<<OpRead|1<<OpDescribe|1<<OpDelete {
		t.Errorf("all group ops %b", got)
	}
}

func TestFilter(t *testing.T) {
	s := func(v string) *string { return &v }
	lit := acl(ResourceTopic, "orders", PatternLiteral, alice, "*", OpRead, PermissionAllow)
	star := acl(ResourceTopic, "*", PatternLiteral, bob, "h", OpWrite, PermissionDeny)
	pre := acl(ResourceTopic, "ord", PatternPrefixed, alice, "*", OpRead, PermissionAllow)
	grp := acl(ResourceGroup, "orders", PatternLiteral, alice, "*", OpRead, PermissionAllow)
	any := Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}
	cases := []struct {
		f    func(f *Filter)
		want [4]bool // lit, star, pre, grp
	}{
		{func(f *Filter) {}, [4]bool{true, true, true, true}},
		{func(f *Filter) { f.ResourceType = ResourceTopic }, [4]bool{true, true, true, false}},
		{func(f *Filter) { f.Name = s("orders") }, [4]bool{true, false, false, true}},
		{func(f *Filter) { f.Name = s("orders"); f.PatternType = PatternMatch }, [4]bool{true, true, true, true}},
		{func(f *Filter) { f.Name = s("orders"); f.PatternType = PatternLiteral }, [4]bool{true, false, false, true}},
		{func(f *Filter) { f.Name = s("ord"); f.PatternType = PatternPrefixed }, [4]bool{false, false, true, false}},
		{func(f *Filter) { f.Name = s("other"); f.PatternType = PatternMatch }, [4]bool{false, true, false, false}},
		{func(f *Filter) { f.PatternType = PatternPrefixed }, [4]bool{false, false, true, false}},
		{func(f *Filter) { f.Principal = s(bob) }, [4]bool{false, true, false, false}},
		{func(f *Filter) { f.Host = s("h") }, [4]bool{false, true, false, false}},
		{func(f *Filter) { f.Operation = OpRead }, [4]bool{true, false, true, true}},
		{func(f *Filter) { f.Permission = PermissionDeny }, [4]bool{false, true, false, false}},
	}
	for i, c := range cases {
		f := any
		c.f(&f)
		for j, a := range []metadata.ACL{lit, star, pre, grp} {
			if got := f.Matches(a); got != c.want[j] {
				t.Errorf("case %d acl %d: got %v", i, j, got)
			}
		}
	}
	if any.Unknown() {
		t.Error("ANY filter unknown")
	}
	for _, f := range []Filter{{PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny},
		{ResourceType: 99, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny},
		{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny}} {
		if !f.Unknown() {
			t.Errorf("%+v not unknown", f)
		}
	}
	if !ValidPrincipal("User:a") || ValidPrincipal("alice") {
		t.Error("ValidPrincipal")
	}
}
