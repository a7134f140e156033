package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
)

// validateNewACL applies the checks a Kafka broker (AclApis) and its
// controller (AclControlManager) make on each ACL of a CreateAcls
// request; every failure is INVALID_REQUEST.
func validateNewACL(a metadata.ACL) *Error {
	switch auth.NormResourceType(a.ResourceType) {
	case auth.ResourceUnknown, auth.ResourceAny:
		return errorf(kerr.InvalidRequest, "Invalid resourceType %s", resourceTypeName(a.ResourceType))
	case auth.ResourceCluster:
		if a.ResourceName != auth.ClusterName {
			return errorf(kerr.InvalidRequest, "The only valid name for the CLUSTER resource is %s", auth.ClusterName)
		}
	}
	if a.ResourceName == "" {
		return errorf(kerr.InvalidRequest, "Invalid empty resource name")
	}
	if p := auth.NormPatternType(a.PatternType); p != auth.PatternLiteral && p != auth.PatternPrefixed {
		return errorf(kerr.InvalidRequest, "Invalid patternType %s", patternTypeName(a.PatternType))
	}
	switch auth.NormOperation(a.Operation) {
	case auth.OpUnknown, auth.OpAny:
		return errorf(kerr.InvalidRequest, "Invalid operation %s", operationName(a.Operation))
	}
	if p := auth.NormPermission(a.PermissionType); p != auth.PermissionAllow && p != auth.PermissionDeny {
		return errorf(kerr.InvalidRequest, "Invalid permissionType %s", permissionName(a.PermissionType))
	}
	if !auth.ValidPrincipal(a.Principal) {
		return errorf(kerr.InvalidRequest, "Could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", a.Principal)
	}
	return nil
}

// CreateACLs validates and stores acls as AclControlManager.createAcls
// does: each ACL gets its own result (nil for success); an ACL equal to an
// existing one, or to an earlier one of the request, succeeds without a
// new record. The new ACLs are appended as one batch of
// AccessControlEntryRecords with fresh ids.
func (c *Controller) CreateACLs(acls []metadata.ACL) []*Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.store.Image()
	out := make([]*Error, len(acls))
	seen := map[metadata.ACL]bool{}
	var recs []metadata.Record
	var created []int
	for i, a := range acls {
		if e := validateNewACL(a); e != nil {
			out[i] = e
			continue
		}
		if _, ok := im.ACLs.ID(a); ok || seen[a] {
			continue
		}
		seen[a] = true
		id, err := c.newACLID(im, recs)
		if err != nil {
			out[i] = storeError(err)
			continue
		}
		recs = append(recs, metadata.AccessControlEntryRecord{ID: id, ACL: a})
		created = append(created, i)
	}
	if err := c.store.Append(recs...); err != nil {
		for _, i := range created {
			out[i] = storeError(err)
		}
	} else if len(recs) > 0 {
		c.logger.Info("ACLs created", "count", len(recs))
	}
	return out
}

// newACLID returns a random id used neither by the image nor by recs.
func (c *Controller) newACLID(im *metadata.Image, recs []metadata.Record) (metadata.UUID, error) {
	for {
		id, err := c.newUUID()
		if err != nil {
			return id, err
		}
		if _, used := im.ACLs.Get(id); used {
			continue
		}
		dup := false
		for _, r := range recs {
			if r.(metadata.AccessControlEntryRecord).ID == id {
				dup = true
			}
		}
		if !dup {
			return id, nil
		}
	}
}

// ACLDeletion is the outcome of one DeleteAcls filter: the ACLs it
// matched (and deleted), or an error.
type ACLDeletion struct {
	Err      *Error
	Matching []metadata.ACL
}

// DeleteACLs deletes every ACL matching any of filters, as
// AclControlManager.deleteAcls: a filter with an UNKNOWN code fails with
// INVALID_REQUEST; each other filter lists the ACLs it matched (an ACL
// matched by several filters is listed by each and removed once). The
// removals are appended as one batch.
func (c *Controller) DeleteACLs(filters []auth.Filter) []ACLDeletion {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.store.Image()
	out := make([]ACLDeletion, len(filters))
	removed := map[metadata.UUID]bool{}
	var recs []metadata.Record
	for i, f := range filters {
		if f.Unknown() {
			out[i].Err = errorf(kerr.InvalidRequest, "Unknown filter element in %s", filterString(f))
			continue
		}
		out[i].Matching = []metadata.ACL{}
		im.ACLs.All(func(id metadata.UUID, a metadata.ACL) bool {
			if f.Matches(a) {
				out[i].Matching = append(out[i].Matching, a)
				if !removed[id] {
					removed[id] = true
					recs = append(recs, metadata.RemoveAccessControlEntryRecord{ID: id})
				}
			}
			return true
		})
	}
	if err := c.store.Append(recs...); err != nil {
		for i := range out {
			if out[i].Err == nil {
				out[i] = ACLDeletion{Err: storeError(err)}
			}
		}
	} else if len(recs) > 0 {
		c.logger.Info("ACLs deleted", "count", len(recs))
	}
	return out
}

// DescribeACLs returns the ACLs of im matching f (in id order), or
// INVALID_REQUEST for a filter with an UNKNOWN code.
func DescribeACLs(im *metadata.Image, f auth.Filter) ([]metadata.ACL, *Error) {
	if f.Unknown() {
		return nil, errorf(kerr.InvalidRequest, "Unknown filter element in %s", filterString(f))
	}
	var out []metadata.ACL
	im.ACLs.All(func(_ metadata.UUID, a metadata.ACL) bool {
		if f.Matches(a) {
			out = append(out, a)
		}
		return true
	})
	return out, nil
}

func filterString(f auth.Filter) string {
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	return fmt.Sprintf("(pattern=(resourceType=%s, name=%s, patternType=%s), entry=(principal=%s, host=%s, operation=%s, permissionType=%s))",
		resourceTypeName(f.ResourceType), s(f.Name), patternTypeName(f.PatternType), s(f.Principal), s(f.Host),
		operationName(f.Operation), permissionName(f.Permission))
}

func codeName(names []string, c int8) string {
	if c < 0 || int(c) >= len(names) {
		return "UNKNOWN"
	}
	return names[c]
}

func resourceTypeName(c int8) string {
	return codeName([]string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}, c)
}

func patternTypeName(c int8) string {
	return codeName([]string{"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"}, c)
}

func operationName(c int8) string {
	return codeName([]string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
		"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}, c)
}

func permissionName(c int8) string {
	return codeName([]string{"UNKNOWN", "ANY", "DENY", "ALLOW"}, c)
}
