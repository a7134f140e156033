// Package api holds one handler per Kafka API key (files named by key, e.g.
// 00_produce.go). Each file registers its key and supported version range in
// init(); ApiVersions answers from that registry, so what we advertise can
// never drift from what we serve.
//
// Handlers read cluster state from the metadata image, change it only
// through the controller, and reach data only through replica partitions.
package api

import (
	"context"
	"log/slog"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/share"
	"github.com/sluice-io/sluice/internal/txn"
)

// Env is what handlers need from the broker.
type Env struct {
	Cfg    *config.Broker
	Meta   *metadata.Store
	Ctl    *controller.Controller
	Parts  *replica.Manager
	Groups *coordinator.Coordinator // group coordinator (keys 8-16, 42, 47)
	Txn    *txn.Coordinator         // transaction coordinator (keys 22, 24-28, 61, 65, 66)
	Share  *share.Manager           // share-partitions and share sessions (keys 78, 79); nil: not served
	Quotas *quota.Manager           // client quotas (quotas.go); nil: none
	Auth   *auth.Authorizer         // nil: no authorizer.class.name, nothing is checked (authz.go)
	Log    *slog.Logger
	NodeID int32
	Host   string // the first listener's advertised endpoint
	Port   int32

	// LeaderThrottle is the leader side's replication throttle
	// (fetch_replica.go); nil: none.
	LeaderThrottle *quota.Replication

	// FetchSessions holds consumers' fetch sessions (fetch_session.go);
	// nil: none, every fetch is full.
	FetchSessions *FetchSessions

	// Endpoints is this node's advertised endpoint per listener name:
	// brokers are named to a client with the endpoint of the listener
	// its request arrived on, as Kafka does.
	Endpoints map[string]Endpoint
	ClusterID string
	// Forward sends a request to the active controller (58_envelope.go);
	// nil on a single node, which is always its own controller.
	Forward func(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// Endpoint is an advertised host and port.
type Endpoint struct {
	Host string
	Port int32
}

// advertised is this node's endpoint on the listener req arrived on (the
// first listener's when unknown).
func (e *Env) advertised(req *server.Request) (string, int32) {
	if req != nil && req.Conn != nil {
		if ep, ok := e.Endpoints[req.Conn.Listener]; ok {
			return ep.Host, ep.Port
		}
	}
	return e.Host, e.Port
}

// listenerNames lists the names of Endpoints, sorted.
func (e *Env) listenerNames() []string {
	names := make([]string, 0, len(e.Endpoints))
	for n := range e.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// listenerOf is the name of the listener req arrived on ("" when unknown).
func listenerOf(req *server.Request) string {
	if req == nil || req.Conn == nil {
		return ""
	}
	return req.Conn.Listener
}

type handlerFunc func(e *Env, req *server.Request) server.Reply

type entry struct {
	key, min, max int16
	fn            handlerFunc
	// enabled, when set, decides per broker whether the key is served and
	// advertised (e.g. the KIP-848 keys follow
	// group.coordinator.rebalance.protocols).
	enabled func(e *Env) bool
}

var registry = map[int16]entry{}

// register is called from each handler file's init.
func register(key, min, max int16, fn handlerFunc) {
	if _, dup := registry[key]; dup {
		panic("api: key registered twice")
	}
	registry[key] = entry{key: key, min: min, max: max, fn: fn}
}

// registerIf registers a key that enabled switches on or off per broker.
func registerIf(key, min, max int16, fn handlerFunc, enabled func(e *Env) bool) {
	register(key, min, max, fn)
	e := registry[key]
	e.enabled = enabled
	registry[key] = e
}

// served reports whether e is on for env.
func (e entry) served(env *Env) bool { return e.enabled == nil || e.enabled(env) }

// Handler dispatches decoded requests to the registered handlers.
type Handler struct{ env *Env }

// NewHandler returns the server.Handler for env.
func NewHandler(env *Env) *Handler { return &Handler{env: env} }

// Supported implements server.Handler.
func (h *Handler) Supported(key, version int16) bool {
	e, ok := registry[key]
	return ok && version >= e.min && version <= e.max && e.served(h.env)
}

// Handle implements server.Handler.
func (h *Handler) Handle(req *server.Request) server.Reply {
	if h.env.shouldForward(req) {
		return forward(h.env, req)
	}
	if q := h.env.Quotas; q == nil || !q.Enabled(quota.Request) || requestQuotaExempt(req.Key) {
		return registry[req.Key].fn(h.env, req)
	}
	return requestQuota(h.env, req)
}

// Versions lists the registry sorted by key (ApiVersions, tests).
func Versions() []entry {
	out := make([]entry, 0, len(registry))
	for _, e := range registry {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// VersionRange reports the advertised range of key.
func VersionRange(key int16) (min, max int16, ok bool) {
	e, ok := registry[key]
	return e.min, e.max, ok
}
