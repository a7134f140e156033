package interbroker

// InFlight is the number of requests written and unanswered on the
// client's current connection to node (0 when there is none), so tests
// can wait until a request is on the wire instead of sleeping.
func InFlight(c *Client, node int32) int {
	c.mu.Lock()
	n := c.nodes[node]
	c.mu.Unlock()
	if n == nil {
		return 0
	}
	n.mu.Lock()
	cn := n.cur
	n.mu.Unlock()
	if cn == nil {
		return 0
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return len(cn.inflight)
}

// Connected reports whether the client holds a live connection to node.
func Connected(c *Client, node int32) bool {
	c.mu.Lock()
	n := c.nodes[node]
	c.mu.Unlock()
	if n == nil {
		return false
	}
	n.mu.Lock()
	cn := n.cur
	n.mu.Unlock()
	return cn != nil && !cn.isDead()
}
