// Package quota enforces Kafka's client quotas (KIP-13, KIP-55, KIP-124,
// KIP-219, KIP-599, KIP-612) from the quotas in the metadata image:
// producer_byte_rate, consumer_byte_rate, request_percentage and
// controller_mutation_rate per (user, client-id), connection_creation_rate
// per ip.
//
// A (user, client-id) pair gets the quota of the most specific entity
// that has the key, in Kafka's order (Resolve). Usage is measured by
// sampled rate sensors (Sensor: quota.window.num samples of
// quota.window.size.seconds), shared as Kafka shares them: a quota set on
// a user (or the default user) is one sensor for all that user's client
// ids, a quota on a client id (or a user's client ids) one per client id.
// A request that takes the rate over the bound gets Kafka's throttle time
// (ThrottleTime); the server then mutes the connection for that long.
//
// Invariant: with no quota of a kind configured, asking for it costs one
// atomic load and no lock, map lookup or allocation (Manager.Enabled).
package quota

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Kind is a quota kind, one per (user, client-id) quota key.
type Kind int

// Quota kinds.
const (
	Produce            Kind = iota // producer_byte_rate (bytes/s)
	Fetch                          // consumer_byte_rate (bytes/s)
	Request                        // request_percentage (% of one thread)
	ControllerMutation             // controller_mutation_rate (partitions/s)
	numKinds
)

// Key returns the quota key of a kind.
func (k Kind) Key() string {
	return [...]string{"producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"}[k]
}

// ConnectionCreationRate is the ip quota key.
const ConnectionCreationRate = "connection_creation_rate"

// Config holds the sensor settings.
type Config struct {
	Samples int           // quota.window.num (11)
	Window  time.Duration // quota.window.size.seconds (1)
	// Controller mutation sensors: controller.quota.window.num (11) and
	// controller.quota.window.size.seconds (1).
	ControllerSamples int
	ControllerWindow  time.Duration
	// Now is the clock (time.Now when nil); tests inject one.
	Now func() time.Time
}

// ConfigFrom reads the quota window properties of a broker config.
func ConfigFrom(b *config.Broker) Config {
	get := func(name string, def int) int {
		if n, err := strconv.Atoi(strings.TrimSpace(b.EffectiveValue(name))); err == nil && n > 0 {
			return n
		}
		return def
	}
	return Config{
		Samples:           get("quota.window.num", 11),
		Window:            time.Duration(get("quota.window.size.seconds", 1)) * time.Second,
		ControllerSamples: get("controller.quota.window.num", 11),
		ControllerWindow:  time.Duration(get("controller.quota.window.size.seconds", 1)) * time.Second,
	}
}

// Manager resolves quotas and keeps the sensors.
type Manager struct {
	cfg   Config
	state atomic.Pointer[state]

	mu       sync.Mutex
	sensors  map[sensorKey]*Sensor
	resolved map[resolveKey]resolved // cache for the current state, reset by Update
	ipSens   map[string]*Sensor
}

// state is what one metadata image configures.
type state struct {
	enabled [numKinds]bool
	quotas  [numKinds]map[metadata.QuotaEntity]float64
	ip      map[string]float64 // by canonical IP; "" is the default
	anyIP   bool
}

type sensorKey struct {
	kind         Kind
	user, client string // Kafka's metric tags: "" when shared
}

type resolveKey struct {
	kind         Kind
	user, client string
}

type resolved struct {
	bound  float64 // 0: no quota
	sensor *Sensor
}

// New returns a manager with no quotas.
func New(cfg Config) *Manager {
	if cfg.Samples <= 0 {
		cfg.Samples = 11
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.ControllerSamples <= 0 {
		cfg.ControllerSamples = 11
	}
	if cfg.ControllerWindow <= 0 {
		cfg.ControllerWindow = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg, sensors: map[sensorKey]*Sensor{}, resolved: map[resolveKey]resolved{}, ipSens: map[string]*Sensor{}}
	m.state.Store(&state{})
	return m
}

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.cfg.Now() }

// Update installs the quotas of img. Sensors (and the usage they hold)
// are kept; only the bounds change.
func (m *Manager) Update(img *metadata.Image) {
	st := &state{}
	for e, kv := range img.ClientQuotas {
		if e.IP.Present {
			if v, ok := kv[ConnectionCreationRate]; ok {
				if st.ip == nil {
					st.ip = map[string]float64{}
				}
				st.ip[canonicalIP(e.IP)] = v
				st.anyIP = true
			}
			continue
		}
		for k := Kind(0); k < numKinds; k++ {
			if v, ok := kv[k.Key()]; ok {
				if st.quotas[k] == nil {
					st.quotas[k] = map[metadata.QuotaEntity]float64{}
				}
				st.quotas[k][e] = v
				st.enabled[k] = true
			}
		}
	}
	m.mu.Lock()
	m.state.Store(st)
	clear(m.resolved)
	m.mu.Unlock()
}

func canonicalIP(n metadata.EntityName) string {
	if n.Default {
		return ""
	}
	if ip := net.ParseIP(n.Name); ip != nil {
		return ip.String()
	}
	return n.Name
}

// Enabled reports whether any quota of kind is configured: one atomic load.
func (m *Manager) Enabled(k Kind) bool { return m.state.Load().enabled[k] }

// Resolve returns the quota of kind for (user, clientID) and the sensor
// tags Kafka would use, following Kafka's precedence:
//
//	users/<user>/clients/<client-id>       tags (user, client-id)
//	users/<user>/clients/<default>         tags (user, client-id)
//	users/<user>                           tags (user, "")
//	users/<default>/clients/<client-id>    tags (user, client-id)
//	users/<default>/clients/<default>      tags (user, client-id)
//	users/<default>                        tags (user, "")
//	clients/<client-id>                    tags ("", client-id)
//	clients/<default>                      tags ("", client-id)
//
// ok is false when no entity has the key.
func Resolve(quotas map[metadata.QuotaEntity]float64, user, clientID string) (bound float64, userTag, clientTag string, ok bool) {
	u, du := metadata.Named(user), metadata.DefaultEntity()
	c, dc := metadata.Named(clientID), metadata.DefaultEntity()
	none := metadata.EntityName{}
	levels := []struct {
		e            metadata.QuotaEntity
		user, client string
	}{
		{metadata.QuotaEntity{User: u, ClientID: c}, user, clientID},
		{metadata.QuotaEntity{User: u, ClientID: dc}, user, clientID},
		{metadata.QuotaEntity{User: u, ClientID: none}, user, ""},
		{metadata.QuotaEntity{User: du, ClientID: c}, user, clientID},
		{metadata.QuotaEntity{User: du, ClientID: dc}, user, clientID},
		{metadata.QuotaEntity{User: du, ClientID: none}, user, ""},
		{metadata.QuotaEntity{ClientID: c}, "", clientID},
		{metadata.QuotaEntity{ClientID: dc}, "", clientID},
	}
	for _, l := range levels {
		if v, found := quotas[l.e]; found {
			return v, l.user, l.client, true
		}
	}
	return 0, "", "", false
}

const maxResolved = 1 << 16

// lookup returns the bound and sensor of kind for (user, clientID),
// bound 0 when unlimited.
func (m *Manager) lookup(k Kind, user, clientID string) resolved {
	st := m.state.Load()
	if !st.enabled[k] {
		return resolved{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rk := resolveKey{k, user, clientID}
	if r, ok := m.resolved[rk]; ok {
		return r
	}
	var r resolved
	if bound, ut, ct, ok := Resolve(st.quotas[k], user, clientID); ok {
		sk := sensorKey{k, ut, ct}
		s := m.sensors[sk]
		if s == nil {
			if k == ControllerMutation {
				s = NewSensor(m.cfg.ControllerSamples, m.cfg.ControllerWindow)
			} else {
				s = NewSensor(m.cfg.Samples, m.cfg.Window)
			}
			m.sensors[sk] = s
		}
		r = resolved{bound: bound, sensor: s}
	}
	if len(m.resolved) >= maxResolved {
		clear(m.resolved) // a cache: bounded however many client ids come
	}
	m.resolved[rk] = r
	return r
}

// Bound returns the quota of kind for (user, clientID); ok false when
// unlimited.
func (m *Manager) Bound(k Kind, user, clientID string) (float64, bool) {
	r := m.lookup(k, user, clientID)
	return r.bound, r.sensor != nil
}

// Record records v of kind for (user, clientID) and returns the throttle
// time (0 when within quota or unlimited).
func (m *Manager) Record(k Kind, user, clientID string, v float64) time.Duration {
	if !m.Enabled(k) {
		return 0
	}
	r := m.lookup(k, user, clientID)
	if r.sensor == nil {
		return 0
	}
	return r.sensor.Record(v, r.bound, m.cfg.Now())
}

// Throttle is the throttle time kind's rate for (user, clientID) calls for
// right now, recording nothing (0 when within quota or unlimited).
func (m *Manager) Throttle(k Kind, user, clientID string) time.Duration {
	if !m.Enabled(k) {
		return 0
	}
	r := m.lookup(k, user, clientID)
	if r.sensor == nil {
		return 0
	}
	return r.sensor.Throttle(r.bound, m.cfg.Now())
}

// Unrecord takes back v recorded with Record.
func (m *Manager) Unrecord(k Kind, user, clientID string, v float64) {
	if r := m.lookup(k, user, clientID); r.sensor != nil {
		r.sensor.Unrecord(v, m.cfg.Now())
	}
}

// MaxInWindow is the most that can be recorded at once without certain
// throttling (Kafka's getMaxValueInQuotaWindow): the bound times
// (Samples−1)×Window; ok false when unlimited. Fetch responses are capped
// to it so a throttled consumer can always make progress.
func (m *Manager) MaxInWindow(k Kind, user, clientID string) (float64, bool) {
	if !m.Enabled(k) {
		return 0, false
	}
	r := m.lookup(k, user, clientID)
	if r.sensor == nil {
		return 0, false
	}
	return r.bound * float64(m.cfg.Samples-1) * m.cfg.Window.Seconds(), true
}

// Connection records a new connection from ip against
// connection_creation_rate (ips/<ip>, else ips/<default>) and returns how
// long to throttle it; > 0 means the connection is over the rate and is
// to be closed (after that delay, as Kafka's acceptor does).
func (m *Manager) Connection(ip net.IP) time.Duration {
	st := m.state.Load()
	if !st.anyIP {
		return 0
	}
	key := ip.String()
	bound, ok := st.ip[key]
	if !ok {
		if bound, ok = st.ip[""]; !ok {
			return 0
		}
	}
	m.mu.Lock()
	s := m.ipSens[key]
	if s == nil {
		s = NewSensor(m.cfg.Samples, m.cfg.Window)
		m.ipSens[key] = s
	}
	m.mu.Unlock()
	return s.Record(1, bound, m.cfg.Now())
}
