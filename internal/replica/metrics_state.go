package replica

// Scrape-time reads for internal/metrics (broker/metrics.go): never on a
// request path.

// MinISRState reports, for a partition this broker leads, whether its
// committed ISR is below or exactly at the effective min.insync.replicas:
// the topic's value capped at the replica count, as Kafka's
// effectiveMinIsr (a topic with min.insync.replicas above its replication
// factor is not reported under min ISR forever). Both are false on a
// follower.
func (p *Partition) MinISRState() (under, at bool) {
	minISR := int(p.Config().MinInsyncReplicas)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role.leader != p.role.self || len(p.role.replicas) == 0 {
		return false, false
	}
	minISR = min(minISR, len(p.role.replicas))
	n := len(p.role.isr)
	return n < minISR, n == minISR
}

// FollowerLags is the lag, as of the last replica fetch answer, of every
// partition this broker follows (Kafka's FetcherLagMetrics ConsumerLag):
// one entry per followed partition, so the label set is bounded by what
// this broker hosts.
func (m *Manager) FollowerLags() map[*Partition]int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.fetch == nil {
		return nil
	}
	fs := m.fetch
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := map[*Partition]int64{}
	for _, f := range fs.byKey {
		f.mu.Lock()
		for _, st := range f.parts {
			out[st.p] = st.lag
		}
		f.mu.Unlock()
	}
	return out
}
