package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The ACL pages speak the ACL APIs through kmsg rather than kadm's
// builder: a form names exactly one binding (or one filter), which maps
// field for field onto the request, and deleting "this row" must not
// widen into a builder's cross product.

// aclBinding is one ACL as Kafka names its parts (kafka-acls --list).
type aclBinding struct {
	ResourceType, ResourceName, PatternType string
	Principal, Host, Operation, Permission  string
}

// Query is the binding as URL parameters, for the delete confirmation's
// link (template.URL: Encode has escaped it, the template must not again).
func (b aclBinding) Query() template.URL {
	return template.URL(url.Values{"resource_type": {b.ResourceType}, "resource_name": {b.ResourceName}, "pattern_type": {b.PatternType},
		"principal": {b.Principal}, "host": {b.Host}, "operation": {b.Operation}, "permission": {b.Permission}}.Encode())
}

type aclsData struct {
	Principal, Type, Name, Pattern string
	Rows                           []aclBinding
	Pager                          pager
	ResourceTypes, Patterns        []string
	Operations                     []string
}

var (
	aclResourceTypes  = []string{"TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}
	aclOperations     = []string{"ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}
	aclFilterPatterns = []string{"ANY", "MATCH", "LITERAL", "PREFIXED"}
)

// acls lists the ACLs matching the filter form (DescribeACLs), one page at
// a time. The broker answers CLUSTER_AUTHORIZATION_FAILED (403 here) to a
// user without Describe on the cluster.
func (s *Server) acls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := aclsData{Principal: strings.TrimSpace(q.Get("principal")), Type: q.Get("type"), Name: strings.TrimSpace(q.Get("name")),
		Pattern: q.Get("pattern"), ResourceTypes: aclResourceTypes, Patterns: aclFilterPatterns, Operations: aclOperations}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeAny
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	if d.Type != "" {
		rt, err := kmsg.ParseACLResourceType(d.Type)
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, "ACLs", fmt.Errorf("resource type %q: %w", d.Type, err))
			return
		}
		req.ResourceType = rt
	}
	if d.Pattern != "" {
		pt, err := kmsg.ParseACLResourcePatternType(d.Pattern)
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, "ACLs", fmt.Errorf("pattern type %q: %w", d.Pattern, err))
			return
		}
		req.ResourcePatternType = pt
	}
	if d.Name != "" {
		req.ResourceName = &d.Name
	}
	if d.Principal != "" {
		req.Principal = &d.Principal
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	resp, err := req.RequestWith(ctx, sessionOf(ctx).kcl)
	if err == nil {
		err = codeErr(resp.ErrorCode, resp.ErrorMessage)
	}
	p := page{Title: "ACLs", Nav: "acls"}
	if errors.Is(err, kerr.SecurityDisabled) {
		// No authorizer (the default): nothing to list, and saying so is
		// the page, not a failure of it.
		p.Error, err = err.Error()+" (no authorizer.class.name on the broker: ACLs are not enforced)", nil
		resp.Resources = nil
	}
	if err != nil {
		s.fail(w, r, adminStatus(err), "ACLs", err)
		return
	}
	var rows []aclBinding
	for _, res := range resp.Resources {
		for _, a := range res.ACLs {
			rows = append(rows, aclBinding{ResourceType: res.ResourceType.String(), ResourceName: res.ResourceName,
				PatternType: res.ResourcePatternType.String(), Principal: a.Principal, Host: a.Host,
				Operation: a.Operation.String(), Permission: a.PermissionType.String()})
		}
	}
	sortBindings(rows)
	d.Pager = paginate(r, len(rows), s.cfg.PageSize)
	d.Rows = rows[d.Pager.From:d.Pager.To]
	p.Data = d
	s.render(w, r, "acls", p)
}

func sortBindings(rows []aclBinding) {
	key := func(b aclBinding) string {
		return strings.Join([]string{b.ResourceType, b.ResourceName, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission}, "\x00")
	}
	slices.SortFunc(rows, func(a, b aclBinding) int { return strings.Compare(key(a), key(b)) })
}

// bindingOf reads one whole binding from a form (create, delete): every
// part named, no wildcards of the filter kind (ANY, MATCH).
func bindingOf(v url.Values) (aclBinding, error) {
	b := aclBinding{ResourceType: v.Get("resource_type"), ResourceName: strings.TrimSpace(v.Get("resource_name")),
		PatternType: v.Get("pattern_type"), Principal: strings.TrimSpace(v.Get("principal")), Host: strings.TrimSpace(v.Get("host")),
		Operation: v.Get("operation"), Permission: v.Get("permission")}
	if b.Host == "" {
		b.Host = "*"
	}
	if b.PatternType == "" {
		b.PatternType = "LITERAL"
	}
	if b.ResourceType == "CLUSTER" && b.ResourceName == "" {
		b.ResourceName = "kafka-cluster"
	}
	switch {
	case b.Principal == "":
		return b, errors.New("give a principal, e.g. User:alice")
	case b.ResourceName == "":
		return b, errors.New("give a resource name (* for all)")
	case b.PatternType != "LITERAL" && b.PatternType != "PREFIXED":
		return b, fmt.Errorf("pattern type %q: want LITERAL or PREFIXED", b.PatternType)
	case b.Permission != "ALLOW" && b.Permission != "DENY":
		return b, fmt.Errorf("permission %q: want ALLOW or DENY", b.Permission)
	}
	return b, nil
}

// parsed is the binding's enums; each is checked against Kafka's names.
func (b aclBinding) parsed() (rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, op kmsg.ACLOperation, perm kmsg.ACLPermissionType, err error) {
	if rt, err = kmsg.ParseACLResourceType(b.ResourceType); err != nil || rt == kmsg.ACLResourceTypeAny {
		return rt, pt, op, perm, fmt.Errorf("resource type %q", b.ResourceType)
	}
	pt, _ = kmsg.ParseACLResourcePatternType(b.PatternType)
	if op, err = kmsg.ParseACLOperation(b.Operation); err != nil || op == kmsg.ACLOperationAny {
		return rt, pt, op, perm, fmt.Errorf("operation %q", b.Operation)
	}
	perm, _ = kmsg.ParseACLPermissionType(b.Permission)
	return rt, pt, op, perm, nil
}

// createACL adds one binding (CreateACLs).
func (s *Server) createACL(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	b, err := bindingOf(r.PostForm)
	if err != nil {
		redirect(w, r, "/acls", "create ACL: "+err.Error(), true)
		return
	}
	rt, pt, op, perm, err := b.parsed()
	if err != nil {
		redirect(w, r, "/acls", "create ACL: "+err.Error(), true)
		return
	}
	req := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = rt, b.ResourceName, pt
	c.Principal, c.Host, c.Operation, c.PermissionType = b.Principal, b.Host, op, perm
	req.Creations = append(req.Creations, c)
	ctx, cancel := s.ctx(r)
	defer cancel()
	resp, err := req.RequestWith(ctx, sessionOf(ctx).kcl)
	if err == nil && len(resp.Results) != 1 {
		err = fmt.Errorf("%d results for one ACL", len(resp.Results))
	}
	if err == nil {
		err = codeErr(resp.Results[0].ErrorCode, resp.Results[0].ErrorMessage)
	}
	if err != nil {
		redirect(w, r, "/acls", "create ACL: "+err.Error(), true)
		return
	}
	redirect(w, r, "/acls", "created "+b.String(), false)
}

func (b aclBinding) String() string {
	return fmt.Sprintf("%s %s %s on %s %s:%s from %s", b.Permission, b.Principal, b.Operation, b.PatternType, b.ResourceType, b.ResourceName, b.Host)
}

// deleteACLConfirm shows the one binding a delete would remove.
func (s *Server) deleteACLConfirm(w http.ResponseWriter, r *http.Request) {
	b, err := bindingOf(r.URL.Query())
	if err == nil {
		_, _, _, _, err = b.parsed()
	}
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "Delete ACL", err)
		return
	}
	if s.cfg.ReadOnly {
		s.fail(w, r, http.StatusForbidden, "Delete ACL", errors.New("the console is read-only (console.read.only=true)"))
		return
	}
	s.render(w, r, "acldelete", page{Title: "Delete ACL", Nav: "acls", Data: b})
}

// deleteACL removes exactly one binding (DeleteACLs with a filter naming
// every part literally, so it matches that binding and nothing else).
func (s *Server) deleteACL(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	b, err := bindingOf(r.PostForm)
	var (
		rt   kmsg.ACLResourceType
		pt   kmsg.ACLResourcePatternType
		op   kmsg.ACLOperation
		perm kmsg.ACLPermissionType
	)
	if err == nil {
		rt, pt, op, perm, err = b.parsed()
	}
	if err != nil {
		redirect(w, r, "/acls", "delete ACL: "+err.Error(), true)
		return
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = rt, &b.ResourceName, pt
	f.Principal, f.Host, f.Operation, f.PermissionType = &b.Principal, &b.Host, op, perm
	req.Filters = append(req.Filters, f)
	ctx, cancel := s.ctx(r)
	defer cancel()
	resp, err := req.RequestWith(ctx, sessionOf(ctx).kcl)
	if err == nil && len(resp.Results) != 1 {
		err = fmt.Errorf("%d results for one filter", len(resp.Results))
	}
	if err == nil {
		res := resp.Results[0]
		if err = codeErr(res.ErrorCode, res.ErrorMessage); err == nil && len(res.MatchingACLs) == 0 {
			err = errors.New("no such ACL (already deleted?)")
		}
	}
	if err != nil {
		redirect(w, r, "/acls", "delete ACL: "+err.Error(), true)
		return
	}
	redirect(w, r, "/acls", "deleted "+b.String(), false)
}

// codeErr is a response's error code with its message, or nil.
func codeErr(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" && !strings.Contains(err.Error(), *msg) {
		return fmt.Errorf("%w: %s", err, *msg)
	}
	return err
}

// adminStatus is statusFor for the admin pages: every authorization
// failure the broker can answer them with is a 403.
func adminStatus(err error) int {
	var ke *kerr.Error
	if errors.As(err, &ke) && strings.HasSuffix(ke.Message, "AUTHORIZATION_FAILED") {
		return http.StatusForbidden
	}
	return statusFor(err)
}
