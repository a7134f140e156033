package auth

import (
	"strings"

	"github.com/sluice-io/sluice/internal/metadata"
)

// Filter selects ACLs, as Kafka's AclBindingFilter in DescribeAcls and
// DeleteAcls requests. Nil Name, Principal and Host match anything; ANY
// resource type, operation and permission match anything; pattern type
// ANY matches both pattern types by exact name, and MATCH selects the
// ACLs that would apply to a resource named Name: the LITERAL ACLs named
// Name or "*" and the PREFIXED ones whose name is a prefix of Name.
type Filter struct {
	ResourceType int8
	Name         *string
	PatternType  int8
	Principal    *string
	Host         *string
	Operation    int8
	Permission   int8
}

// Unknown reports a filter with an UNKNOWN (or undefined) code, which
// Kafka rejects with INVALID_REQUEST.
func (f Filter) Unknown() bool {
	return NormResourceType(f.ResourceType) == ResourceUnknown || NormPatternType(f.PatternType) == PatternUnknown ||
		NormOperation(f.Operation) == OpUnknown || NormPermission(f.Permission) == PermissionUnknown
}

// Matches reports whether acl passes the filter.
func (f Filter) Matches(acl metadata.ACL) bool {
	return f.matchesPattern(acl) && f.matchesEntry(acl)
}

func (f Filter) matchesPattern(acl metadata.ACL) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != acl.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != acl.PatternType {
		return false
	}
	if f.Name == nil {
		return true
	}
	name := *f.Name
	if f.PatternType == PatternAny || f.PatternType == acl.PatternType {
		return name == acl.ResourceName
	}
	switch acl.PatternType { // MATCH
	case PatternLiteral:
		return name == acl.ResourceName || acl.ResourceName == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, acl.ResourceName)
	}
	return false
}

func (f Filter) matchesEntry(acl metadata.ACL) bool {
	if f.Principal != nil && *f.Principal != acl.Principal {
		return false
	}
	if f.Host != nil && *f.Host != acl.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != acl.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == acl.PermissionType
}
