package config

import "strconv"

// fetchSessionDefs configure the broker's fetch session cache (KIP-227,
// internal/api/fetch_session.go). Read-only, as in Kafka.
var fetchSessionDefs = []brokerDef{
	rawDef("max.incremental.fetch.session.cache.slots", TypeInt, "1000", atLeast(0), "Fetch sessions (KIP-227) the broker keeps at once; a consumer's fetch with a session names only the partitions that changed, and the answer only those with news. 0: no sessions, every fetch is full."),
}

// FetchSessionSlots is max.incremental.fetch.session.cache.slots.
func (b *Broker) FetchSessionSlots() int {
	v, _ := b.valueSource("max.incremental.fetch.session.cache.slots")
	n, _ := strconv.Atoi(v)
	return n
}
