package config

import "strings"

// MetricsListenerKey is the broker config naming the Prometheus/health HTTP
// listener, e.g. http://127.0.0.1:9644. Unset or empty: no listener.
const MetricsListenerKey = "metrics.listener"

// MetricsListener returns metrics.listener ("" when off, the default).
func (b *Broker) MetricsListener() string { return strings.TrimSpace(b.Raw[MetricsListenerKey]) }
