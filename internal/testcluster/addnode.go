package testcluster

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/sluice-io/sluice/internal/broker"
)

// AddNode starts one more node into the running cluster, as an operator
// adds a broker: index N (node.id N+1), a new directory formatted with
// the cluster's id, on ports of its own and on the cluster's network (Cut,
// Pause, Crash... take its index like any other's). The voter set is
// static (controller.quorum.voters; KIP-853's dynamic voters are not
// implemented), so the new node is process.roles=broker: it follows the
// metadata quorum as an observer and registers with the active controller
// as a new broker. Its properties are every node's (the defaults and
// WithProp's, not WithNodeProp's) with props on top; a cluster with
// WithListener listeners cannot take one. It returns once the broker is registered and unfenced; it
// leads nothing until replicas are placed or moved onto it.
//
// AddNode changes the node list that every Cluster method reads: call it
// from the test's goroutine, not while another goroutine uses the Cluster
// (clients already made are not concerned).
func (c *Cluster) AddNode(props map[string]string) *Node {
	c.t.Helper()
	if len(c.nodes[0].extra) > 0 {
		c.t.Fatalf("testcluster: AddNode on a cluster with WithListener listeners")
	}
	i := len(c.nodes)
	port := FreePorts(c.t, 1)[0]
	nd := &Node{c: c, index: i, id: int32(i + 1), dir: c.t.TempDir(), logs: &logBuffer{},
		addr: fmt.Sprintf("127.0.0.1:%d", port), extra: map[string]string{}, observer: true}
	nd.props = defaultProps(c.voters)
	maps.Copy(nd.props, c.props)
	nd.props["process.roles"] = "broker"
	nd.props["node.id"] = strconv.Itoa(int(nd.id))
	nd.props["log.dirs"] = nd.dir
	nd.props["listeners"] = "PLAINTEXT://" + nd.addr
	nd.props["controller.quorum.voters"] = c.nodes[0].props["controller.quorum.voters"]
	maps.Copy(nd.props, props)
	if _, err := broker.FormatDir(nd.dir, c.clusterID, nd.id); err != nil {
		c.t.Fatalf("format node %d: %v", nd.id, err)
	}
	c.net.register(nd.addr, i)
	c.nodes = append(c.nodes, nd)
	if err := nd.start(); err != nil {
		c.t.Fatalf("start node %d: %v", nd.id, err)
	}
	c.WaitUnfenced(i)
	return nd
}

// Observer reports whether the node has no vote in the metadata quorum
// (one AddNode started).
func (nd *Node) Observer() bool { return nd.observer }
