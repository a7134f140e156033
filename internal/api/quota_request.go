package api

import (
	"time"

	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/server"
)

// requestQuota runs a request's handler under request_percentage: the
// time the handler spends before its reply is recorded, as a percentage of
// one thread (Kafka records request-handler thread time the same way:
// nanoseconds × 100 / 1e9 per second is percent). Time a reply spends
// waiting (the fsync of acks=all, a fetch long poll) is not handler time,
// as purgatory time is not in Kafka; the reply's own assembly (a fetch
// reading its partitions after the wait) is not counted either, which
// Kafka would count. Over the quota, the response carries the throttle
// time and the connection is muted (KIP-219).
func requestQuota(e *Env, req *server.Request) server.Reply {
	start := time.Now()
	reply := registry[req.Key].fn(e, req)
	pct := float64(time.Since(start).Nanoseconds()) * 100 / float64(time.Second)
	d := e.Quotas.Record(quota.Request, quotaUser(req), req.ClientID, pct)
	if d <= 0 {
		return reply
	}
	return func() *server.Response {
		resp := reply()
		if resp != nil && !resp.None && d > resp.Throttle {
			resp.Throttle = d
		}
		return resp
	}
}

// requestQuotaExempt lists the requests request_percentage never
// throttles, as Kafka exempts them: a client must always be able to learn
// versions and authenticate, and inter-broker markers are cluster actions.
func requestQuotaExempt(key int16) bool {
	switch key {
	case 17, 18, 27, 36, 62, 63: // SaslHandshake, ApiVersions, WriteTxnMarkers, SaslAuthenticate, BrokerRegistration, BrokerHeartbeat
		return true
	case 83, 84, 85, 86, 87: // the share-group state APIs (inter-broker)
		return true
	}
	return false
}
