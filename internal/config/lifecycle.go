package config

import (
	"strconv"
	"strings"
	"time"
)

// The broker lifecycle (KRaft's broker registration and heartbeats): a
// broker heartbeats to the active controller every
// broker.heartbeat.interval.ms; one that has not for
// broker.session.timeout.ms is fenced (it leads nothing until it
// heartbeats again). Both are read-only, as in Kafka.
//
// controlled.shutdown.enable: a broker that is closed (SIGTERM) first asks
// the controller to move its leaderships away and waits for that, at most
// broker.session.timeout.ms; false closes at once, the controller learning
// of it from the lease as after a crash.
var lifecycleDefs = []brokerDef{
	rawDef("controlled.shutdown.enable", TypeBoolean, "true", nil, "Before it closes, a broker asks the active controller to move its leaderships to other in-sync replicas and waits until it leads nothing, at most broker.session.timeout.ms (then it closes anyway and its lease expires as after a crash). false closes without asking."),
	rawDef("broker.heartbeat.interval.ms", TypeInt, "2000", atLeast(1), "How often a broker sends a heartbeat to the active controller."),
	rawDef("broker.session.timeout.ms", TypeInt, "9000", atLeast(1), "How long a broker's lease lasts without a heartbeat; the active controller fences a broker whose lease expired."),
}

// BrokerHeartbeatInterval is broker.heartbeat.interval.ms.
func (b *Broker) BrokerHeartbeatInterval() time.Duration {
	return b.lifecycleMs("broker.heartbeat.interval.ms")
}

// BrokerSessionTimeout is broker.session.timeout.ms.
func (b *Broker) BrokerSessionTimeout() time.Duration {
	return b.lifecycleMs("broker.session.timeout.ms")
}

// ControlledShutdownEnable is controlled.shutdown.enable.
func (b *Broker) ControlledShutdownEnable() bool {
	v, _ := b.valueSource("controlled.shutdown.enable")
	return !strings.EqualFold(strings.TrimSpace(v), "false")
}

func (b *Broker) lifecycleMs(name string) time.Duration {
	v, _ := b.valueSource(name)
	n, _ := strconv.ParseInt(v, 10, 64)
	return time.Duration(n) * time.Millisecond
}
