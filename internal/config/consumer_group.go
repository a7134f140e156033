package config

import (
	"slices"
	"strconv"
)

// consumerAssignors are the accepted group.consumer.assignors items.
var consumerAssignors = []string{
	"uniform", "range",
	"org.apache.kafka.coordinator.group.assignor.UniformAssignor",
	"org.apache.kafka.coordinator.group.assignor.RangeAssignor",
}

// validateConsumerGroups checks the KIP-848 properties together, as Kafka
// does at startup: classic is always served; the heartbeat interval and
// session timeout lie within their min/max; the interval is below the
// session timeout.
func (b *Broker) validateConsumerGroups() error {
	get := func(key string) (int64, string) {
		v, _ := b.value(key)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n, v
	}
	if v, _ := b.value("group.coordinator.rebalance.protocols"); !slices.Contains(splitList(v), "classic") {
		return invalid("group.coordinator.rebalance.protocols", v, "must include classic")
	}
	for _, k := range []string{"heartbeat.interval.ms", "session.timeout.ms"} {
		key := "group.consumer." + k
		n, v := get(key)
		lo, _ := get("group.consumer.min." + k)
		hi, _ := get("group.consumer.max." + k)
		if n < lo || n > hi {
			return invalid(key, v, "must be within group.consumer.min."+k+" ("+strconv.FormatInt(lo, 10)+") and group.consumer.max."+k+" ("+strconv.FormatInt(hi, 10)+")")
		}
	}
	if hb, v := get("group.consumer.heartbeat.interval.ms"); hb >= func() int64 { n, _ := get("group.consumer.session.timeout.ms"); return n }() {
		return invalid("group.consumer.heartbeat.interval.ms", v, "must be below group.consumer.session.timeout.ms")
	}
	return nil
}
