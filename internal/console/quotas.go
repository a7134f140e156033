package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// quotaEntityTypes are Kafka's client quota entity types, in the order
// kafka-configs names them.
var quotaEntityTypes = []string{"user", "client-id", "ip"}

// quotaKeys are the quota configs Kafka knows; the form offers these.
var quotaKeys = []string{"producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate", "connection_creation_rate"}

// defaultEntity names an entity type's default (kafka-configs
// --entity-default) in the forms; the wire has a null name.
const defaultEntity = "<default>"

type quotaRow struct {
	Entity string     // user=alice, client-id=<default>
	Parts  url.Values // the entity as form fields (user, client-id, ip)
	Key    string
	Value  string
}

type quotasData struct {
	Type, Name string
	Types      []string
	Keys       []string
	Rows       []quotaRow
	Pager      pager
}

// quotas lists the client quotas (DescribeClientQuotas), optionally only
// the entities of one type (and name), one value per row, paged.
func (s *Server) quotas(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := quotasData{Type: q.Get("type"), Name: strings.TrimSpace(q.Get("name")), Types: quotaEntityTypes, Keys: quotaKeys}
	var comps []kadm.DescribeClientQuotaComponent
	if d.Type != "" {
		if !slices.Contains(quotaEntityTypes, d.Type) {
			s.fail(w, r, http.StatusBadRequest, "Quotas", fmt.Errorf("entity type %q: want user, client-id or ip", d.Type))
			return
		}
		c := kadm.DescribeClientQuotaComponent{Type: d.Type, MatchType: kmsg.QuotasMatchTypeAny}
		switch d.Name {
		case "":
		case defaultEntity:
			c.MatchType = kmsg.QuotasMatchTypeDefault
		default:
			c.MatchType, c.MatchName = kmsg.QuotasMatchTypeExact, &d.Name
		}
		comps = append(comps, c)
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	described, err := sessionOf(ctx).adm.DescribeClientQuotas(ctx, false, comps)
	if err != nil {
		s.fail(w, r, adminStatus(err), "Quotas", err)
		return
	}
	var rows []quotaRow
	for _, e := range described {
		parts := url.Values{}
		var names []string
		for _, c := range e.Entity {
			n := defaultEntity
			if c.Name != nil {
				n = *c.Name
			}
			parts.Set(c.Type, n)
		}
		for _, t := range quotaEntityTypes {
			if parts.Has(t) {
				names = append(names, t+"="+parts.Get(t))
			}
		}
		for _, v := range e.Values {
			rows = append(rows, quotaRow{Entity: strings.Join(names, ", "), Parts: parts, Key: v.Key,
				Value: strconv.FormatFloat(v.Value, 'f', -1, 64)})
		}
	}
	slices.SortFunc(rows, func(a, b quotaRow) int {
		if c := strings.Compare(a.Entity, b.Entity); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	d.Pager = paginate(r, len(rows), s.cfg.PageSize)
	d.Rows = rows[d.Pager.From:d.Pager.To]
	s.render(w, r, "quotas", page{Title: "Client quotas", Nav: "quotas", Data: d})
}

// alterQuota sets or removes one key of one entity (AlterClientQuotas).
func (s *Server) alterQuota(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	var entity kadm.ClientQuotaEntity
	for _, t := range quotaEntityTypes {
		n := strings.TrimSpace(r.PostForm.Get(t))
		if n == "" {
			continue
		}
		c := kadm.ClientQuotaEntityComponent{Type: t}
		if n != defaultEntity {
			c.Name = &n
		}
		entity = append(entity, c)
	}
	key := r.PostForm.Get("key")
	op := kadm.AlterClientQuotaOp{Key: key, Remove: r.PostForm.Get("op") == "remove"}
	var err error
	switch {
	case len(entity) == 0:
		err = errors.New("name a user, a client id or an ip (" + defaultEntity + " for the default)")
	case key == "":
		err = errors.New("choose a quota")
	case !op.Remove:
		op.Value, err = strconv.ParseFloat(strings.TrimSpace(r.PostForm.Get("value")), 64)
	}
	if err != nil {
		redirect(w, r, "/quotas", "quota: "+err.Error(), true)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := sessionOf(ctx).adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{op}}})
	if err == nil {
		for _, a := range res {
			if a.Err != nil {
				err = errors.New(errText(a.Err, a.ErrMessage))
			}
		}
	}
	if err != nil {
		redirect(w, r, "/quotas", "quota "+key+" of "+entity.String()+": "+err.Error(), true)
		return
	}
	if op.Remove {
		redirect(w, r, "/quotas", "removed "+key+" of "+entity.String(), false)
		return
	}
	redirect(w, r, "/quotas", fmt.Sprintf("set %s=%s of %s", key, strconv.FormatFloat(op.Value, 'f', -1, 64), entity.String()), false)
}
