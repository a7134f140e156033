// Package auth is Sluice's authorizer: Kafka's ACL model (resource
// patterns, access control entries, their codes) and the decisions
// Kafka's KRaft StandardAuthorizer makes over the ACLs of the current
// metadata image (metadata.ACLs).
//
// A decision for (principal, host, operation, resource type, name):
//
//   - a principal listed in super.users is always allowed;
//   - the ACLs that apply to the resource are the LITERAL ones with its exact
//     name, the LITERAL ones named "*" and the PREFIXED ones whose name is a
//     prefix of it, of the same resource type;
//   - an ACL matches when its principal is the principal or "User:*", its
//     host is "*" or the client's address, and its operation is the
//     operation, ALL, or (for ALLOW ACLs only) an operation implying it:
//     READ, WRITE, DELETE and ALTER imply DESCRIBE, ALTER_CONFIGS implies
//     DESCRIBE_CONFIGS;
//   - a matching DENY wins over any ALLOW; otherwise a matching ALLOW
//     allows; otherwise, if some ACL applies to the resource the operation
//     is denied, and if none does, allow.everyone.if.no.acl.found decides.
//
// Invariants: decisions read only the immutable ACL set passed in, so a
// request sees one consistent set; the package holds no mutable state.
package auth

import (
	"strings"

	"github.com/sluice-io/sluice/internal/metadata"
)

// Kafka's ResourceType codes.
const (
	ResourceUnknown         int8 = 0
	ResourceAny             int8 = 1
	ResourceTopic           int8 = 2
	ResourceGroup           int8 = 3
	ResourceCluster         int8 = 4
	ResourceTransactionalID int8 = 5
	ResourceDelegationToken int8 = 6
	ResourceUser            int8 = 7
)

// Kafka's PatternType codes.
const (
	PatternUnknown  int8 = 0
	PatternAny      int8 = 1
	PatternMatch    int8 = 2
	PatternLiteral  int8 = 3
	PatternPrefixed int8 = 4
)

// Kafka's AclOperation codes.
const (
	OpUnknown         int8 = 0
	OpAny             int8 = 1
	OpAll             int8 = 2
	OpRead            int8 = 3
	OpWrite           int8 = 4
	OpCreate          int8 = 5
	OpDelete          int8 = 6
	OpAlter           int8 = 7
	OpDescribe        int8 = 8
	OpClusterAction   int8 = 9
	OpDescribeConfigs int8 = 10
	OpAlterConfigs    int8 = 11
	OpIdempotentWrite int8 = 12
	OpCreateTokens    int8 = 13
	OpDescribeTokens  int8 = 14
)

// Kafka's AclPermissionType codes.
const (
	PermissionUnknown int8 = 0
	PermissionAny     int8 = 1
	PermissionDeny    int8 = 2
	PermissionAllow   int8 = 3
)

// ClusterName is the name of the one CLUSTER resource.
const ClusterName = "kafka-cluster"

// Wildcard is the resource name and host matching every resource or host.
const Wildcard = "*"

// WildcardPrincipal is the principal of ACLs that apply to every user.
const WildcardPrincipal = "User:*"

// Normalize maps codes Kafka does not define to UNKNOWN, as Kafka's
// fromCode does, so validation sees one value for all of them.
func normalize(code, max int8) int8 {
	if code < 0 || code > max {
		return 0
	}
	return code
}

// NormResourceType, NormPatternType, NormOperation and NormPermission
// return the code, or UNKNOWN (0) for a code Kafka does not define.
func NormResourceType(c int8) int8 { return normalize(c, ResourceUser) }

// NormPatternType: see NormResourceType.
func NormPatternType(c int8) int8 { return normalize(c, PatternPrefixed) }

// NormOperation: see NormResourceType.
func NormOperation(c int8) int8 { return normalize(c, OpDescribeTokens) }

// NormPermission: see NormResourceType.
func NormPermission(c int8) int8 { return normalize(c, PermissionAllow) }

// Principal is an authenticated identity, "Type:name" on the wire and in
// ACLs (e.g. User:alice).
type Principal struct {
	Type string
	Name string
}

// Anonymous is the principal of unauthenticated (PLAINTEXT) connections.
var Anonymous = Principal{Type: "User", Name: "ANONYMOUS"}

// String renders the principal as ACLs name it.
func (p Principal) String() string { return p.Type + ":" + p.Name }

// ValidPrincipal reports whether s has Kafka's principal form Type:name
// (a colon separating type and name).
func ValidPrincipal(s string) bool { return strings.Contains(s, ":") }

// Authorizer decides with a fixed super.users list and
// allow.everyone.if.no.acl.found setting.
type Authorizer struct {
	superUsers   map[string]bool
	allowIfNoACL bool
}

// New returns an authorizer; superUsers are principals ("User:admin").
func New(superUsers []string, allowEveryoneIfNoACLFound bool) *Authorizer {
	a := &Authorizer{superUsers: map[string]bool{}, allowIfNoACL: allowEveryoneIfNoACLFound}
	for _, s := range superUsers {
		a.superUsers[s] = true
	}
	return a
}

// IsSuperUser reports whether principal is in super.users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.superUsers[principal] }

type verdict int8

const (
	noMatch verdict = iota
	allowed
	denied
)

// impliesDescribe and impliesDescribeConfigs: operations whose ALLOW ACLs
// also allow DESCRIBE, respectively DESCRIBE_CONFIGS.
func implies(aclOp, op int8) bool {
	switch op {
	case OpDescribe:
		return aclOp == OpDescribe || aclOp == OpRead || aclOp == OpWrite || aclOp == OpDelete || aclOp == OpAlter
	case OpDescribeConfigs:
		return aclOp == OpDescribeConfigs || aclOp == OpAlterConfigs
	}
	return aclOp == op
}

// match is the verdict of one ACL (whose resource applies) for the request.
func match(acl *metadata.ACL, principal, host string, op int8) verdict {
	if acl.Principal != principal && acl.Principal != WildcardPrincipal {
		return noMatch
	}
	if acl.Host != Wildcard && acl.Host != host {
		return noMatch
	}
	if acl.Operation != OpAll {
		if acl.PermissionType == PermissionAllow {
			if !implies(acl.Operation, op) {
				return noMatch
			}
		} else if acl.Operation != op {
			return noMatch
		}
	}
	switch acl.PermissionType {
	case PermissionAllow:
		return allowed
	case PermissionDeny:
		return denied
	}
	return noMatch
}

// Authorize decides whether principal ("Type:name") connecting from host
// (an IP address) may perform op on the resource (resourceType, name),
// given acls.
func (a *Authorizer) Authorize(acls *metadata.ACLs, principal, host string, op, resourceType int8, name string) bool {
	if a.superUsers[principal] {
		return true
	}
	var allow, hasACLs bool
	// scan returns true on a matching DENY.
	scan := func(list []metadata.ACL) bool {
		for i := range list {
			hasACLs = true
			switch match(&list[i], principal, host, op) {
			case denied:
				return true
			case allowed:
				allow = true
			}
		}
		return false
	}
	if scan(acls.Literal(resourceType, name)) {
		return false
	}
	if name != Wildcard && scan(acls.Literal(resourceType, Wildcard)) {
		return false
	}
	pre := acls.Prefixed(resourceType)
	for i := range pre {
		if !strings.HasPrefix(name, pre[i].ResourceName) {
			continue
		}
		hasACLs = true
		switch match(&pre[i], principal, host, op) {
		case denied:
			return false
		case allowed:
			allow = true
		}
	}
	if allow {
		return true
	}
	return !hasACLs && a.allowIfNoACL
}

// AuthorizeByResourceType reports whether principal may perform op on at
// least one resource of resourceType, as Kafka's
// Authorizer.authorizeByResourceType: allowed if the principal may
// perform it on a resource no ACL names (super users, or no ACLs with
// allow.everyone.if.no.acl.found), or if some matching ALLOW ACL (LITERAL
// or PREFIXED) is not dominated by a matching DENY: a LITERAL DENY of the
// same name, a PREFIXED DENY of a prefix of its name, or a LITERAL "*"
// DENY. A LITERAL "*" ALLOW allows unless a "*" DENY exists. Implied
// operations do not count here, as in Kafka.
func (a *Authorizer) AuthorizeByResourceType(acls *metadata.ACLs, principal, host string, op, resourceType int8) bool {
	// Kafka checks a name no ACL is expected to use, so super users and
	// the no-ACL default apply regardless of DENY ACLs elsewhere.
	if a.Authorize(acls, principal, host, op, resourceType, "hardcode") {
		return true
	}
	denyLiteral := map[string]bool{}
	denyPrefix := map[string]bool{}
	var allowLiteral, allowPrefix []string
	wildcardAllow, wildcardDeny := false, false
	acls.OfType(resourceType, func(acl metadata.ACL) {
		if acl.Host != host && acl.Host != Wildcard {
			return
		}
		if acl.Principal != principal && acl.Principal != WildcardPrincipal {
			return
		}
		if acl.Operation != op && acl.Operation != OpAll {
			return
		}
		literal := acl.PatternType == PatternLiteral
		switch acl.PermissionType {
		case PermissionDeny:
			switch {
			case literal && acl.ResourceName == Wildcard:
				wildcardDeny = true
			case literal:
				denyLiteral[acl.ResourceName] = true
			default:
				denyPrefix[acl.ResourceName] = true
			}
		case PermissionAllow:
			switch {
			case literal && acl.ResourceName == Wildcard:
				wildcardAllow = true
			case literal:
				allowLiteral = append(allowLiteral, acl.ResourceName)
			default:
				allowPrefix = append(allowPrefix, acl.ResourceName)
			}
		}
	})
	if wildcardDeny {
		return false
	}
	if wildcardAllow {
		return true
	}
	dominated := func(name string) bool {
		for i := 1; i <= len(name); i++ {
			if denyPrefix[name[:i]] {
				return true
			}
		}
		return false
	}
	for _, n := range allowLiteral {
		if !denyLiteral[n] && !dominated(n) {
			return true
		}
	}
	for _, n := range allowPrefix {
		if !dominated(n) {
			return true
		}
	}
	return false
}

// supportedOps lists the operations Kafka reports in authorized-operations
// bitfields per resource type (AclEntry.supportedOperations).
var supportedOps = map[int8][]int8{
	ResourceTopic:           {OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs},
	ResourceGroup:           {OpRead, OpDescribe, OpDelete},
	ResourceCluster:         {OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe},
	ResourceTransactionalID: {OpDescribe, OpWrite},
	ResourceDelegationToken: {OpDescribe},
	ResourceUser:            {OpCreateTokens, OpDescribeTokens},
}

// AuthorizedOperations returns the bitfield (bit n for operation code n)
// of the supported operations of resourceType that principal may perform
// on the named resource, as in Metadata, DescribeGroups and
// DescribeCluster responses.
func (a *Authorizer) AuthorizedOperations(acls *metadata.ACLs, principal, host string, resourceType int8, name string) int32 {
	var bits int32
	for _, op := range supportedOps[resourceType] {
		if a.Authorize(acls, principal, host, op, resourceType, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// AllOperations returns the bitfield of every supported operation of
// resourceType (what Kafka reports with no authorizer).
func AllOperations(resourceType int8) int32 {
	var bits int32
	for _, op := range supportedOps[resourceType] {
		bits |= 1 << op
	}
	return bits
}
