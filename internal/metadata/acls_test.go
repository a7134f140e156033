package metadata

import (
	"reflect"
	"testing"
)

func TestImageACLs(t *testing.T) {
	read := ACL{ResourceType: 2, ResourceName: "orders", PatternType: 3, Principal: "User:alice", Host: "*", Operation: 3, PermissionType: 3}
	star := ACL{ResourceType: 2, ResourceName: "*", PatternType: 3, Principal: "User:*", Host: "*", Operation: 8, PermissionType: 3}
	pre := ACL{ResourceType: 2, ResourceName: "ord", PatternType: 4, Principal: "User:bob", Host: "1.2.3.4", Operation: 4, PermissionType: 2}
	mid, err := Empty().Apply([]Record{
		AccessControlEntryRecord{ID: uuid(1), ACL: read},
		AccessControlEntryRecord{ID: uuid(2), ACL: star},
		AccessControlEntryRecord{ID: uuid(3), ACL: pre},
	})
	if err != nil {
		t.Fatal(err)
	}
	if mid.ACLs.Len() != 3 {
		t.Fatalf("len %d", mid.ACLs.Len())
	}
	if got := mid.ACLs.Literal(2, "orders"); !reflect.DeepEqual(got, []ACL{read}) {
		t.Errorf("literal orders %v", got)
	}
	if got := mid.ACLs.Literal(2, "*"); !reflect.DeepEqual(got, []ACL{star}) {
		t.Errorf("literal * %v", got)
	}
	if got := mid.ACLs.Prefixed(2); !reflect.DeepEqual(got, []ACL{pre}) {
		t.Errorf("prefixed %v", got)
	}
	if id, ok := mid.ACLs.ID(pre); !ok || id != uuid(3) {
		t.Errorf("id of prefixed %v %v", id, ok)
	}
	im, err := mid.Apply([]Record{RemoveAccessControlEntryRecord{ID: uuid(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if im.ACLs.Len() != 2 || len(im.ACLs.Literal(2, "orders")) != 0 {
		t.Errorf("removed ACL still present: %d", im.ACLs.Len())
	}
	// Copy on write: the earlier image keeps the ACL.
	if _, ok := mid.ACLs.Get(uuid(1)); !ok {
		t.Error("remove leaked into the earlier image")
	}
	var ids []UUID
	im.ACLs.All(func(id UUID, _ ACL) bool { ids = append(ids, id); return true })
	if !reflect.DeepEqual(ids, []UUID{uuid(2), uuid(3)}) {
		t.Errorf("ids %v", ids)
	}
	// An image change without ACL records shares the ACL set.
	next, err := im.Apply([]Record{TopicRecord{Name: "t", ID: uuid(9)}})
	if err != nil {
		t.Fatal(err)
	}
	if next.ACLs != im.ACLs {
		t.Error("ACL set not shared")
	}

	bad := [][]Record{
		{AccessControlEntryRecord{ACL: read}},                                                                   // zero id
		{AccessControlEntryRecord{ID: uuid(2), ACL: read}},                                                      // id in use
		{RemoveAccessControlEntryRecord{ID: uuid(1)}},                                                           // unknown id
		{AccessControlEntryRecord{ID: uuid(7), ACL: ACL{ResourceType: 2, PatternType: 3, Principal: "User:a"}}}, // empty name
		{AccessControlEntryRecord{ID: uuid(7), ACL: ACL{ResourceType: 2, ResourceName: "x", PatternType: 3, Principal: "alice"}}},
	}
	for i, recs := range bad {
		if _, err := im.Apply(recs); err == nil {
			t.Errorf("bad case %d applied", i)
		}
	}
	if TypeAccessControlEntry.String() != "AccessControlEntryRecord" || TypeRemoveAccessControlEntry.String() != "RemoveAccessControlEntryRecord" {
		t.Error("type names")
	}
}
