package api

import (
	"time"

	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/server"
)

// quotaUser is the user quotas are resolved for: the connection's
// principal name (the SASL user, ANONYMOUS on PLAINTEXT), as in Kafka.
func quotaUser(req *server.Request) string { return principalOf(req).Name }

// produceThrottle records a Produce request's size against
// producer_byte_rate and returns the throttle time (0 when unlimited: one
// atomic load).
func produceThrottle(e *Env, req *server.Request) time.Duration {
	if e.Quotas == nil || !e.Quotas.Enabled(quota.Produce) {
		return 0
	}
	return e.Quotas.Record(quota.Produce, quotaUser(req), req.ClientID, float64(req.Size))
}

// fetchQuotaBudget caps a fetch response at what consumer_byte_rate allows
// in one window (Kafka's getMaxValueInQuotaWindow), so a throttled
// consumer's next fetch can pass.
func fetchQuotaBudget(e *Env, req *server.Request, budget int) int {
	if e.Quotas == nil || !e.Quotas.Enabled(quota.Fetch) {
		return budget
	}
	if limit, ok := e.Quotas.MaxInWindow(quota.Fetch, quotaUser(req), req.ClientID); ok && limit < float64(budget) {
		return max(int(limit), 1)
	}
	return budget
}

// fetchThrottle records a fetch response's record bytes against
// consumer_byte_rate and returns how long to throttle. Over the quota,
// Kafka answers an empty response (no partitions) with the throttle time
// and takes the bytes back, since they are not sent; the server then
// mutes the connection.
func fetchThrottle(e *Env, req *server.Request, size int) time.Duration {
	if e.Quotas == nil || !e.Quotas.Enabled(quota.Fetch) {
		return 0
	}
	user := quotaUser(req)
	d := e.Quotas.Record(quota.Fetch, user, req.ClientID, float64(size))
	if d > 0 {
		e.Quotas.Unrecord(quota.Fetch, user, req.ClientID, float64(size))
	}
	return d
}
