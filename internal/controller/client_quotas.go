package controller

import (
	"math"
	"net"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Client quota keys (Kafka's QuotaConfigs) and the value type Kafka's
// ConfigDef gives each: LONG and INT keys take whole numbers only.
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

type quotaKeyType int8

const (
	quotaDouble quotaKeyType = iota
	quotaLong
	quotaInt
)

// userClientQuotaKeys are the keys of user, client-id and user+client-id
// entities; ipQuotaKeys those of ip entities.
var (
	userClientQuotaKeys = map[string]quotaKeyType{
		ProducerByteRate: quotaLong, ConsumerByteRate: quotaLong,
		RequestPercentage: quotaDouble, ControllerMutationRate: quotaDouble,
	}
	ipQuotaKeys = map[string]quotaKeyType{ConnectionCreationRate: quotaInt}
)

// QuotaOp is one op of an AlterClientQuotas entry: set Key to Value, or
// remove it.
type QuotaOp struct {
	Key    string
	Value  float64
	Remove bool
}

// QuotaAlteration is one entry of an AlterClientQuotas request.
type QuotaAlteration struct {
	Entity []metadata.QuotaEntityData
	Ops    []QuotaOp
}

// QuotaResult is the outcome for one entity, echoing the request's
// entity data.
type QuotaResult struct {
	Entity []metadata.QuotaEntityData
	Err    *Error // nil on success
}

// AlterClientQuotas validates and applies client quota alterations like
// KRaft's ClientQuotaControlManager, all with INVALID_REQUEST: an empty
// entity, an unknown or repeated entity type, an empty entity name, ip
// combined with user or client-id, an ip name that is not an IP address,
// a key repeated within an entry, an entity repeated in the request, a key
// not valid for the entity's type, a value not above 0, and a fractional
// value for a LONG or INT key. A failing entity writes nothing; the
// records of the others (only the values that change, and removals of
// keys that exist) are appended as one batch unless validateOnly.
func (c *Controller) AlterClientQuotas(alts []QuotaAlteration, validateOnly bool) []QuotaResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.store.Image()

	type state struct {
		res  QuotaResult
		recs []metadata.Record
	}
	var order []metadata.QuotaEntity
	byEntity := map[metadata.QuotaEntity]*state{}
	var invalid []QuotaResult // entities that do not even parse
	for _, a := range alts {
		e, err := metadata.QuotaEntityOf(a.Entity)
		if err != nil {
			invalid = append(invalid, QuotaResult{Entity: a.Entity, Err: errorf(kerr.InvalidRequest, "%s", err.Error())})
			continue
		}
		if st, dup := byEntity[e]; dup {
			st.recs = nil
			st.res.Err = errorf(kerr.InvalidRequest, "Ignoring duplicate entity %s", e)
			continue
		}
		st := &state{res: QuotaResult{Entity: a.Entity}}
		byEntity[e] = st
		order = append(order, e)
		st.recs, st.res.Err = quotaRecords(img, e, a.Ops)
	}

	var recs []metadata.Record
	for _, e := range order {
		if st := byEntity[e]; st.res.Err == nil {
			recs = append(recs, st.recs...)
		}
	}
	if !validateOnly && len(recs) > 0 {
		if err := c.store.Append(recs...); err != nil {
			for _, e := range order {
				if st := byEntity[e]; st.res.Err == nil {
					st.res.Err = storeError(err)
				}
			}
		} else {
			c.logger.Info("client quotas altered", "records", len(recs))
		}
	}
	out := make([]QuotaResult, 0, len(order)+len(invalid))
	for _, e := range order {
		out = append(out, byEntity[e].res)
	}
	return append(out, invalid...)
}

// quotaRecords validates one entity's ops against img and returns the
// records that apply them.
func quotaRecords(img *metadata.Image, e metadata.QuotaEntity, ops []QuotaOp) ([]metadata.Record, *Error) {
	keys := userClientQuotaKeys
	if e.IP.Present {
		keys = ipQuotaKeys
		if !e.IP.Default && net.ParseIP(e.IP.Name) == nil {
			return nil, errorf(kerr.InvalidRequest, "%s is not a valid IP or resolvable host.", e.IP.Name)
		}
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.Key] {
			return nil, errorf(kerr.InvalidRequest, "Duplicate quota key %s not updating quota for this entity %s", op.Key, e)
		}
		seen[op.Key] = true
	}
	cur := img.ClientQuotas[e]
	var recs []metadata.Record
	for _, op := range ops {
		if op.Remove {
			if _, ok := cur[op.Key]; ok {
				recs = append(recs, metadata.ClientQuotaRecord{Entity: e.Data(), Key: op.Key, Remove: true})
			}
			continue
		}
		if err := validateQuotaValue(keys, op.Key, op.Value); err != nil {
			return nil, err
		}
		if v, ok := cur[op.Key]; !ok || v != op.Value {
			recs = append(recs, metadata.ClientQuotaRecord{Entity: e.Data(), Key: op.Key, Value: op.Value})
		}
	}
	return recs, nil
}

func validateQuotaValue(keys map[string]quotaKeyType, key string, v float64) *Error {
	typ, ok := keys[key]
	if !ok {
		return errorf(kerr.InvalidRequest, "Invalid configuration key %s", key)
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return errorf(kerr.InvalidRequest, "Quota %s must be greater than 0", key)
	}
	switch typ {
	case quotaInt:
		if v > math.MaxInt32 {
			return errorf(kerr.InvalidRequest, "Proposed value for %s is too large for an INT.", key)
		}
	case quotaLong:
		if v > math.MaxInt64 {
			return errorf(kerr.InvalidRequest, "Proposed value for %s is too large for a LONG.", key)
		}
	default:
		return nil
	}
	if math.Abs(math.Mod(v, 1)) > 1e-6 {
		return errorf(kerr.InvalidRequest, "%s cannot be a fractional value.", key)
	}
	return nil
}

// Describe filter match types (DescribeClientQuotasRequest).
const (
	MatchExact     int8 = 0 // the entity type with the given name
	MatchDefault   int8 = 1 // the entity type's default
	MatchSpecified int8 = 2 // any entity with the type (named or default)
)

// QuotaFilter is one component of a DescribeClientQuotas filter.
type QuotaFilter struct {
	EntityType string
	MatchType  int8
	Match      *string
}

// QuotaEntry is one entity of a DescribeClientQuotas answer.
type QuotaEntry struct {
	Entity metadata.QuotaEntity
	Values map[string]float64
}

// DescribeClientQuotas answers a filter from img as a KRaft broker does
// (ClientQuotasImage.describe): every component must name a distinct type
// (INVALID_REQUEST for an empty or repeated one, UNSUPPORTED_VERSION for
// an unknown one); EXACT needs a match string, DEFAULT and SPECIFIED must
// not have one; ip cannot be filtered together with user or client-id. An
// entity matches when it has every filtered type with the wanted name (any
// name for SPECIFIED); strict also requires it to have no other type. No
// components and not strict: every entity.
func DescribeClientQuotas(img *metadata.Image, filter []QuotaFilter, strict bool) ([]QuotaEntry, *Error) {
	wants := map[string]quotaWant{}
	for _, f := range filter {
		if f.EntityType == "" {
			return nil, errorf(kerr.InvalidRequest, "Invalid empty entity type.")
		}
		if _, dup := wants[f.EntityType]; dup {
			return nil, errorf(kerr.InvalidRequest, "Entity type %s cannot appear more than once in the filter.", f.EntityType)
		}
		switch f.EntityType {
		case metadata.QuotaUser, metadata.QuotaClientID, metadata.QuotaIP:
		default:
			return nil, errorf(kerr.UnsupportedVersion, "Unsupported entity type %s", f.EntityType)
		}
		switch f.MatchType {
		case MatchExact:
			if f.Match == nil {
				return nil, errorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
			wants[f.EntityType] = quotaWant{name: metadata.Named(*f.Match)}
		case MatchDefault:
			if f.Match != nil {
				return nil, errorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
			wants[f.EntityType] = quotaWant{name: metadata.DefaultEntity()}
		case MatchSpecified:
			if f.Match != nil {
				return nil, errorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
			wants[f.EntityType] = quotaWant{any: true}
		default:
			return nil, errorf(kerr.InvalidRequest, "Unknown match type %d", f.MatchType)
		}
	}
	_, ip := wants[metadata.QuotaIP]
	_, user := wants[metadata.QuotaUser]
	_, client := wants[metadata.QuotaClientID]
	if ip && (user || client) {
		return nil, errorf(kerr.InvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	if len(wants) == 0 && strict {
		return []QuotaEntry{}, nil
	}
	out := []QuotaEntry{}
	for _, e := range img.ClientQuotaEntities() {
		if quotaEntityMatches(e, wants, strict) {
			out = append(out, QuotaEntry{Entity: e, Values: img.ClientQuotas[e]})
		}
	}
	return out, nil
}

// quotaWant is what a filter asks of one entity type: any name, or name.
type quotaWant struct {
	any  bool
	name metadata.EntityName
}

func quotaEntityMatches(e metadata.QuotaEntity, wants map[string]quotaWant, strict bool) bool {
	comps := map[string]metadata.EntityName{metadata.QuotaUser: e.User, metadata.QuotaClientID: e.ClientID, metadata.QuotaIP: e.IP}
	for typ, w := range wants {
		have := comps[typ]
		if !have.Present || (!w.any && have != w.name) {
			return false
		}
	}
	if strict {
		n := 0
		for _, c := range comps {
			if c.Present {
				n++
			}
		}
		return n == len(wants)
	}
	return true
}
