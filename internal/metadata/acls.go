package metadata

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ACL records, as KRaft's AccessControlEntryRecord (api key 23) and
// RemoveAccessControlEntryRecord (api key 24). Version 0 bodies:
//
//	AccessControlEntryRecord       (23): id uuid, resourceType int8,
//	                                     resourceName string, patternType int8,
//	                                     principal string, host string,
//	                                     operation int8, permissionType int8
//	RemoveAccessControlEntryRecord (24): id uuid
//
// The int8 fields use Kafka's codes (ResourceType, PatternType, AclOperation,
// AclPermissionType; package auth names them). The controller validates an
// ACL before writing its record; the image only requires a non-zero id that
// is not in use, a non-empty resource name and a principal of the form
// Type:name, and a remove of an id that exists.

// Record types of the ACL records.
const (
	TypeAccessControlEntry       RecordType = 23
	TypeRemoveAccessControlEntry RecordType = 24
)

// ACL is one access control entry bound to a resource pattern, as Kafka's
// StandardAcl. Two ACLs are the same ACL when all fields are equal.
type ACL struct {
	ResourceType   int8
	ResourceName   string
	PatternType    int8
	Principal      string
	Host           string
	Operation      int8
	PermissionType int8
}

// AccessControlEntryRecord adds the ACL with the given id.
type AccessControlEntryRecord struct {
	ID UUID
	ACL
}

// RemoveAccessControlEntryRecord removes the ACL with the given id.
type RemoveAccessControlEntryRecord struct {
	ID UUID
}

// Type implements Record.
func (AccessControlEntryRecord) Type() RecordType { return TypeAccessControlEntry }

// Type implements Record.
func (RemoveAccessControlEntryRecord) Type() RecordType { return TypeRemoveAccessControlEntry }

// Version implements Record.
func (AccessControlEntryRecord) Version() uint8 { return 0 }

// Version implements Record.
func (RemoveAccessControlEntryRecord) Version() uint8 { return 0 }

func (r AccessControlEntryRecord) appendBody(b []byte) []byte {
	b = append(b, r.ID[:]...)
	b = append(b, byte(r.ResourceType))
	b = appendStr(b, r.ResourceName)
	b = append(b, byte(r.PatternType))
	b = appendStr(b, r.Principal)
	b = appendStr(b, r.Host)
	return append(b, byte(r.Operation), byte(r.PermissionType))
}

func (r RemoveAccessControlEntryRecord) appendBody(b []byte) []byte { return append(b, r.ID[:]...) }

func decodeAccessControlEntry(d *decoder) Record {
	r := AccessControlEntryRecord{ID: d.uuid()}
	r.ResourceType = int8(d.u8())
	r.ResourceName = d.str()
	r.PatternType = int8(d.u8())
	r.Principal = d.str()
	r.Host = d.str()
	r.Operation = int8(d.u8())
	r.PermissionType = int8(d.u8())
	return r
}

func decodeRemoveAccessControlEntry(d *decoder) Record {
	return RemoveAccessControlEntryRecord{ID: d.uuid()}
}

// ACLs is the immutable set of ACLs of an image, with the indexes the
// authorizer needs. Share it freely; never modify it.
type ACLs struct {
	byID map[UUID]ACL
	// literal[resourceType][name] holds LITERAL ACLs (the wildcard "*"
	// included, under its own name); prefixed[resourceType] the PREFIXED ones.
	literal  map[int8]map[string][]ACL
	prefixed map[int8][]ACL
	ids      map[ACL]UUID
}

// Pattern type codes the index needs (Kafka's PatternType).
const (
	aclPatternLiteral  int8 = 3
	aclPatternPrefixed int8 = 4
)

var emptyACLs = newACLs(map[UUID]ACL{})

func newACLs(byID map[UUID]ACL) *ACLs {
	a := &ACLs{byID: byID, literal: map[int8]map[string][]ACL{}, prefixed: map[int8][]ACL{}, ids: make(map[ACL]UUID, len(byID))}
	for _, id := range slices.SortedFunc(maps.Keys(byID), func(x, y UUID) int { return strings.Compare(string(x[:]), string(y[:])) }) {
		acl := byID[id]
		a.ids[acl] = id
		switch acl.PatternType {
		case aclPatternPrefixed:
			a.prefixed[acl.ResourceType] = append(a.prefixed[acl.ResourceType], acl)
		default:
			m := a.literal[acl.ResourceType]
			if m == nil {
				m = map[string][]ACL{}
				a.literal[acl.ResourceType] = m
			}
			m[acl.ResourceName] = append(m[acl.ResourceName], acl)
		}
	}
	return a
}

// Len is the number of ACLs.
func (a *ACLs) Len() int { return len(a.byID) }

// Get returns the ACL with id.
func (a *ACLs) Get(id UUID) (ACL, bool) {
	acl, ok := a.byID[id]
	return acl, ok
}

// ID returns the id of an existing ACL equal to acl.
func (a *ACLs) ID(acl ACL) (UUID, bool) {
	id, ok := a.ids[acl]
	return id, ok
}

// All calls fn for every ACL with its id, in id order, until fn returns false.
func (a *ACLs) All(fn func(id UUID, acl ACL) bool) {
	for _, id := range slices.SortedFunc(maps.Keys(a.byID), func(x, y UUID) int { return strings.Compare(string(x[:]), string(y[:])) }) {
		if !fn(id, a.byID[id]) {
			return
		}
	}
}

// Literal returns the LITERAL ACLs of resourceType named exactly name
// (name "*" gives the wildcard ACLs).
func (a *ACLs) Literal(resourceType int8, name string) []ACL { return a.literal[resourceType][name] }

// Prefixed returns the PREFIXED ACLs of resourceType.
func (a *ACLs) Prefixed(resourceType int8) []ACL { return a.prefixed[resourceType] }

// OfType calls fn for every ACL of resourceType.
func (a *ACLs) OfType(resourceType int8, fn func(ACL)) {
	for _, l := range a.literal[resourceType] {
		for _, acl := range l {
			fn(acl)
		}
	}
	for _, acl := range a.prefixed[resourceType] {
		fn(acl)
	}
}

// aclsMut returns the delta's private id map, copying the image's once.
func (d *delta) aclsMut() map[UUID]ACL {
	if d.aclIDs == nil {
		d.aclIDs = maps.Clone(d.base.ACLs.byID)
		if d.aclIDs == nil {
			d.aclIDs = map[UUID]ACL{}
		}
	}
	return d.aclIDs
}

func (d *delta) accessControlEntry(r AccessControlEntryRecord) error {
	if r.ID.IsZero() {
		return fmt.Errorf("zero ACL id")
	}
	if r.ResourceName == "" {
		return fmt.Errorf("ACL %s has an empty resource name", r.ID)
	}
	if !strings.Contains(r.Principal, ":") {
		return fmt.Errorf("ACL %s principal %q is not of the form Type:name", r.ID, r.Principal)
	}
	m := d.aclsMut()
	if _, ok := m[r.ID]; ok {
		return fmt.Errorf("ACL id %s already in use", r.ID)
	}
	m[r.ID] = r.ACL
	return nil
}

func (d *delta) removeAccessControlEntry(r RemoveAccessControlEntryRecord) error {
	m := d.aclsMut()
	if _, ok := m[r.ID]; !ok {
		return fmt.Errorf("remove of unknown ACL id %s", r.ID)
	}
	delete(m, r.ID)
	return nil
}

// finishACLs indexes the ACLs changed by the delta.
func (d *delta) finishACLs() {
	if d.aclIDs != nil {
		d.next.ACLs = newACLs(d.aclIDs)
	}
}
