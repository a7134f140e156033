package api

import (
	"time"

	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/server"
)

// mutationQuota applies controller_mutation_rate (partitions created,
// added or deleted per second) to one CreateTopics, CreatePartitions or
// DeleteTopics request, as Kafka's ControllerMutationQuotaManager: with
// request versions that know THROTTLING_QUOTA_EXCEEDED (strict) a topic is
// refused once the rate is over the quota, the mutation that crosses it
// still passes; older versions (permissive) are never refused, only
// throttled. The zero value (no quota) admits everything.
type mutationQuota struct {
	q            *quota.Manager
	user, client string
	strict       bool
}

func newMutationQuota(e *Env, req *server.Request, strict bool) mutationQuota {
	if e.Quotas == nil || !e.Quotas.Enabled(quota.ControllerMutation) {
		return mutationQuota{}
	}
	return mutationQuota{q: e.Quotas, user: quotaUser(req), client: req.ClientID, strict: strict}
}

// refused reports whether the next mutation is refused: strict mode and
// the rate already over the quota.
func (m mutationQuota) refused() bool {
	return m.q != nil && m.strict && m.q.Throttle(quota.ControllerMutation, m.user, m.client) > 0
}

// record counts n partitions mutated (after the controller accepted them).
func (m mutationQuota) record(n int32) {
	if m.q != nil && n > 0 {
		m.q.Record(quota.ControllerMutation, m.user, m.client, float64(n))
	}
}

// throttle is the response's throttle time once the request's mutations
// are recorded.
func (m mutationQuota) throttle() time.Duration {
	if m.q == nil {
		return 0
	}
	return m.q.Throttle(quota.ControllerMutation, m.user, m.client)
}

// throttlingMessage is Kafka's message for THROTTLING_QUOTA_EXCEEDED (89).
const throttlingMessage = "The throttling quota has been exceeded."
