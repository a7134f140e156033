package coordinator

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Broker properties of the consumer group protocol (KIP-848), under
// Kafka's names and with Kafka 4.0's defaults. They are read from the raw
// properties; ConsumerConfigErrors reports what Kafka would refuse.
const (
	PropRebalanceProtocols        = "group.coordinator.rebalance.protocols"
	PropConsumerHeartbeatInterval = "group.consumer.heartbeat.interval.ms"
	PropConsumerMinHeartbeat      = "group.consumer.min.heartbeat.interval.ms"
	PropConsumerMaxHeartbeat      = "group.consumer.max.heartbeat.interval.ms"
	PropConsumerSessionTimeout    = "group.consumer.session.timeout.ms"
	PropConsumerMinSessionTimeout = "group.consumer.min.session.timeout.ms"
	PropConsumerMaxSessionTimeout = "group.consumer.max.session.timeout.ms"
	PropConsumerMaxSize           = "group.consumer.max.size"
	PropConsumerAssignors         = "group.consumer.assignors"
	DefaultRebalanceProtocols     = "classic,consumer"
	DefaultConsumerAssignors      = "uniform,range"
	defaultConsumerHeartbeatMs    = 5000
	defaultConsumerMinHeartbeatMs = 5000
	defaultConsumerMaxHeartbeatMs = 15000
	defaultConsumerSessionMs      = 45000
	defaultConsumerMinSessionMs   = 45000
	defaultConsumerMaxSessionMs   = 60000
	defaultConsumerMaxSize        = math.MaxInt32
	consumerProtocolName          = "consumer"
	classicProtocolName           = "classic"
)

func rawInt(raw map[string]string, key string, def int64) int64 {
	if v, err := strconv.ParseInt(strings.TrimSpace(raw[key]), 10, 64); err == nil {
		return v
	}
	return def
}

func rawList(raw map[string]string, key, def string) []string {
	v, ok := raw[key]
	if !ok {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// consumerConfigFrom fills c's consumer group settings from the raw
// properties. Values outside their min/max are clamped (Kafka refuses to
// start; see ConsumerConfigErrors).
func consumerConfigFrom(raw map[string]string, c *Config) {
	protocols := rawList(raw, PropRebalanceProtocols, DefaultRebalanceProtocols)
	c.ConsumerProtocol = slices.ContainsFunc(protocols, func(p string) bool { return strings.EqualFold(p, consumerProtocolName) })
	hb := rawInt(raw, PropConsumerHeartbeatInterval, defaultConsumerHeartbeatMs)
	hb = min(max(hb, rawInt(raw, PropConsumerMinHeartbeat, defaultConsumerMinHeartbeatMs)), rawInt(raw, PropConsumerMaxHeartbeat, defaultConsumerMaxHeartbeatMs))
	session := rawInt(raw, PropConsumerSessionTimeout, defaultConsumerSessionMs)
	session = min(max(session, rawInt(raw, PropConsumerMinSessionTimeout, defaultConsumerMinSessionMs)), rawInt(raw, PropConsumerMaxSessionTimeout, defaultConsumerMaxSessionMs))
	c.ConsumerHeartbeatInterval = time.Duration(hb) * time.Millisecond
	c.ConsumerSessionTimeout = time.Duration(session) * time.Millisecond
	c.ConsumerMaxSize = int(rawInt(raw, PropConsumerMaxSize, defaultConsumerMaxSize))
	c.ConsumerAssignors = nil
	for _, a := range rawList(raw, PropConsumerAssignors, DefaultConsumerAssignors) {
		if n := assignorName(a); assignors[n] != nil && !slices.Contains(c.ConsumerAssignors, n) {
			c.ConsumerAssignors = append(c.ConsumerAssignors, n)
		}
	}
}

// consumerDefaults fills settings a Config built by hand left zero.
func consumerDefaults(c *Config) {
	if c.ConsumerHeartbeatInterval <= 0 {
		c.ConsumerHeartbeatInterval = defaultConsumerHeartbeatMs * time.Millisecond
	}
	if c.ConsumerSessionTimeout <= 0 {
		c.ConsumerSessionTimeout = defaultConsumerSessionMs * time.Millisecond
	}
	if c.ConsumerMaxSize <= 0 {
		c.ConsumerMaxSize = defaultConsumerMaxSize
	}
	if len(c.ConsumerAssignors) == 0 {
		c.ConsumerAssignors = []string{"uniform", "range"}
	}
}

// ConsumerConfigErrors lists what Kafka would refuse in the consumer group
// properties: unknown protocols or assignors, a heartbeat interval or
// session timeout outside its min/max, an interval not below the session
// timeout, a max size below 1.
func ConsumerConfigErrors(raw map[string]string) []string {
	var errs []string
	protocols := rawList(raw, PropRebalanceProtocols, DefaultRebalanceProtocols)
	for _, p := range protocols {
		if !strings.EqualFold(p, classicProtocolName) && !strings.EqualFold(p, consumerProtocolName) {
			errs = append(errs, fmt.Sprintf("%s: unknown protocol %q (classic, consumer)", PropRebalanceProtocols, p))
		}
	}
	if !slices.ContainsFunc(protocols, func(p string) bool { return strings.EqualFold(p, classicProtocolName) }) {
		errs = append(errs, PropRebalanceProtocols+" must include classic")
	}
	for _, a := range rawList(raw, PropConsumerAssignors, DefaultConsumerAssignors) {
		if assignors[assignorName(a)] == nil {
			errs = append(errs, fmt.Sprintf("%s: unknown assignor %q (uniform, range)", PropConsumerAssignors, a))
		}
	}
	check := func(key, minKey, maxKey string, def, minDef, maxDef int64) int64 {
		v, lo, hi := rawInt(raw, key, def), rawInt(raw, minKey, minDef), rawInt(raw, maxKey, maxDef)
		if v < lo || v > hi {
			errs = append(errs, fmt.Sprintf("%s=%d must be within [%s=%d, %s=%d]", key, v, minKey, lo, maxKey, hi))
		}
		return v
	}
	hb := check(PropConsumerHeartbeatInterval, PropConsumerMinHeartbeat, PropConsumerMaxHeartbeat, defaultConsumerHeartbeatMs, defaultConsumerMinHeartbeatMs, defaultConsumerMaxHeartbeatMs)
	session := check(PropConsumerSessionTimeout, PropConsumerMinSessionTimeout, PropConsumerMaxSessionTimeout, defaultConsumerSessionMs, defaultConsumerMinSessionMs, defaultConsumerMaxSessionMs)
	if hb >= session {
		errs = append(errs, fmt.Sprintf("%s must be below %s", PropConsumerHeartbeatInterval, PropConsumerSessionTimeout))
	}
	if rawInt(raw, PropConsumerMaxSize, defaultConsumerMaxSize) < 1 {
		errs = append(errs, PropConsumerMaxSize+" must be at least 1")
	}
	return errs
}
