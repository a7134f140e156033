package controller

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
)

func TestCreateDescribeDeleteACLs(t *testing.T) {
	e := newEnv(t, nil, 1)
	read := metadata.ACL{ResourceType: auth.ResourceTopic, ResourceName: "t", PatternType: auth.PatternLiteral,
		Principal: "User:alice", Host: "*", Operation: auth.OpRead, PermissionType: auth.PermissionAllow}
	pre := read
	pre.ResourceName, pre.PatternType = "t-", auth.PatternPrefixed
	mod := func(f func(a *metadata.ACL)) metadata.ACL { a := read; f(&a); return a }
	bad := []metadata.ACL{
		mod(func(a *metadata.ACL) { a.ResourceType = auth.ResourceAny }),
		mod(func(a *metadata.ACL) { a.ResourceType = auth.ResourceUnknown }),
		mod(func(a *metadata.ACL) { a.ResourceType = 42 }),
		mod(func(a *metadata.ACL) { a.PatternType = auth.PatternMatch }),
		mod(func(a *metadata.ACL) { a.PatternType = auth.PatternAny }),
		mod(func(a *metadata.ACL) { a.Operation = auth.OpAny }),
		mod(func(a *metadata.ACL) { a.Operation = auth.OpUnknown }),
		mod(func(a *metadata.ACL) { a.PermissionType = auth.PermissionAny }),
		mod(func(a *metadata.ACL) { a.Principal = "alice" }),
		mod(func(a *metadata.ACL) { a.ResourceName = "" }),
		mod(func(a *metadata.ACL) { a.ResourceType, a.ResourceName = auth.ResourceCluster, "c" }),
	}
	res := e.c.CreateACLs(append([]metadata.ACL{read, pre, read}, bad...))
	for _, r := range res[:3] {
		wantCode(t, "valid creation", r, nil)
	}
	for i, r := range res[3:] {
		if r == nil || r.Code != kerr.InvalidRequest.Code {
			t.Errorf("bad creation %d: %v", i, r)
		}
	}
	if n := e.store.Image().ACLs.Len(); n != 2 {
		t.Fatalf("%d ACLs stored, want 2 (duplicate once)", n)
	}
	// Creating an existing ACL again succeeds and writes nothing.
	off := e.store.Image().Offset
	wantCode(t, "existing", e.c.CreateACLs([]metadata.ACL{read})[0], nil)
	if e.store.Image().Offset != off {
		t.Error("duplicate ACL written")
	}

	any := auth.Filter{ResourceType: auth.ResourceAny, PatternType: auth.PatternAny, Operation: auth.OpAny, Permission: auth.PermissionAny}
	name := "t-1"
	match := any
	match.Name, match.PatternType = &name, auth.PatternMatch
	got, err := DescribeACLs(e.store.Image(), match)
	if err != nil || !reflect.DeepEqual(got, []metadata.ACL{pre}) {
		t.Errorf("describe MATCH t-1: %v %v", got, err)
	}
	unknown := any
	unknown.Operation = auth.OpUnknown
	if _, err := DescribeACLs(e.store.Image(), unknown); err == nil || err.Code != kerr.InvalidRequest.Code {
		t.Errorf("describe unknown: %v", err)
	}

	lit := any
	lit.PatternType = auth.PatternLiteral
	dels := e.c.DeleteACLs([]auth.Filter{lit, lit, unknown})
	if dels[0].Err != nil || !reflect.DeepEqual(dels[0].Matching, []metadata.ACL{read}) || !reflect.DeepEqual(dels[1].Matching, []metadata.ACL{read}) {
		t.Errorf("delete literal: %+v", dels)
	}
	if dels[2].Err == nil || dels[2].Err.Code != kerr.InvalidRequest.Code {
		t.Errorf("delete unknown: %+v", dels[2])
	}
	if n := e.store.Image().ACLs.Len(); n != 1 {
		t.Errorf("%d ACLs after delete, want 1", n)
	}
	if d := e.c.DeleteACLs([]auth.Filter{lit}); d[0].Err != nil || len(d[0].Matching) != 0 {
		t.Errorf("second delete: %+v", d)
	}
}
