package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The KRaft settings: which roles this node runs and where the metadata
// quorum's voters are. With none of them set, `sluice serve` is a single
// combined node whose metadata log is a one-voter quorum (Kafka requires
// process.roles; Sluice's single-node default does not).
var kraftDefs = []brokerDef{
	rawDef("process.roles", TypeList, "", listOf("broker", "controller"), "Roles of this node: broker,controller (a combined node, a voter of the metadata quorum) or broker (no vote: it observes the quorum named by controller.quorum.voters); empty is a single combined node with a one-voter metadata quorum."),
	rawDef("controller.quorum.voters", TypeList, "", nil, "The metadata quorum's voters, id@host:port,... (each host:port a controller listener). Empty: this node alone (one voter)."),
	rawDef("controller.quorum.bootstrap.servers", TypeList, "", nil, "Controllers to find the quorum through (KIP-853), host:port,...; the voters are the set the node was formatted with (sluice format --initial-controllers). Adding or removing voters later is not supported yet. Exclusive with controller.quorum.voters."),
	rawDef("controller.listener.names", TypeList, "", nil, "Listener names the metadata quorum's raft traffic uses (the first is served); they serve no Kafka clients."),
	rawDef("metadata.log.dir", TypeString, "", nil, "Directory holding the metadata log (__cluster_metadata-0); default the first of log.dirs."),
	rawDef("controller.quorum.election.timeout.ms", TypeInt, "1000", atLeast(10), "Time without a leader before a voter starts an election (raft ticks are a tenth of it)."),
	rawDef("controller.quorum.fetch.timeout.ms", TypeInt, "2000", atLeast(10), "Accepted for Kafka compatibility: raft followers notice a dead leader after controller.quorum.election.timeout.ms."),
	rawDef("metadata.log.max.record.bytes.between.snapshots", TypeLong, "20971520", atLeast(1), "Bytes of metadata records applied between two snapshots (checkpoint files); the log is truncated behind each."),
	rawDef("broker.rack", TypeString, "", nil, "Rack of this broker: replica placement puts a partition's replicas on distinct racks while it can, and clients see it in Metadata and DescribeCluster."),
	rawDef("metadata.max.retention.bytes", TypeLong, "104857600", atLeast(-1), "Accepted for Kafka compatibility: the metadata log is truncated behind every snapshot, so it stays near metadata.log.max.record.bytes.between.snapshots."),
}

// BrokerRack returns broker.rack, nil when unset.
func (b *Broker) BrokerRack() *string {
	v, _ := b.valueSource("broker.rack")
	if v = strings.TrimSpace(v); v == "" {
		return nil
	}
	return &v
}

// IsBrokerOnly reports process.roles=broker: a node with no vote in the
// metadata quorum, which observes it.
func (b *Broker) IsBrokerOnly() bool {
	r := b.ProcessRoles()
	return len(r) == 1 && r[0] == "broker"
}

// ProcessRoles returns process.roles (empty: a single combined node).
func (b *Broker) ProcessRoles() []string {
	v, _ := b.valueSource("process.roles")
	return splitList(v)
}

// QuorumVoters parses controller.quorum.voters: node id to host:port.
// Empty when unset.
func (b *Broker) QuorumVoters() (map[int32]string, error) {
	v, _ := b.valueSource("controller.quorum.voters")
	items := splitList(v)
	if len(items) == 0 {
		return nil, nil
	}
	out := map[int32]string{}
	for _, it := range items {
		id, addr, ok := strings.Cut(it, "@")
		n, err := strconv.ParseInt(id, 10, 32)
		if !ok || err != nil || n < 0 {
			return nil, invalid("controller.quorum.voters", v, fmt.Sprintf("%q is not id@host:port", it))
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, invalid("controller.quorum.voters", v, fmt.Sprintf("%q: %v", it, err))
		}
		if _, dup := out[int32(n)]; dup {
			return nil, invalid("controller.quorum.voters", v, fmt.Sprintf("voter %d is listed twice", n))
		}
		out[int32(n)] = addr
	}
	return out, nil
}

// QuorumBootstrapServers returns controller.quorum.bootstrap.servers.
func (b *Broker) QuorumBootstrapServers() []string {
	v, _ := b.valueSource("controller.quorum.bootstrap.servers")
	return splitList(v)
}

// ControllerListenerNames returns controller.listener.names.
func (b *Broker) ControllerListenerNames() []string {
	v, _ := b.valueSource("controller.listener.names")
	return splitList(v)
}

// IsControllerListener reports whether the listener serves the metadata
// quorum rather than Kafka clients.
func (b *Broker) IsControllerListener(name string) bool {
	return slices.Contains(b.ControllerListenerNames(), name)
}

// MetadataLogDir returns the directory holding __cluster_metadata-0:
// metadata.log.dir, else the first of log.dirs.
func (b *Broker) MetadataLogDir() string {
	if v, _ := b.valueSource("metadata.log.dir"); strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(strings.Split(b.LogDirs, ",")[0])
}

// QuorumElectionTimeout is controller.quorum.election.timeout.ms.
func (b *Broker) QuorumElectionTimeout() time.Duration {
	v, _ := b.valueSource("controller.quorum.election.timeout.ms")
	n, _ := strconv.ParseInt(v, 10, 64)
	return time.Duration(n) * time.Millisecond
}

// MetadataSnapshotBytes is metadata.log.max.record.bytes.between.snapshots.
func (b *Broker) MetadataSnapshotBytes() int64 {
	v, _ := b.valueSource("metadata.log.max.record.bytes.between.snapshots")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// validateKRaft checks the KRaft settings against each other and the
// listeners, so a misconfigured node fails at start with the key to fix.
func (b *Broker) validateKRaft() error {
	roles := b.ProcessRoles()
	voters, err := b.QuorumVoters()
	if err != nil {
		return err
	}
	bootstrap := b.QuorumBootstrapServers()
	for _, hp := range bootstrap {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return invalid("controller.quorum.bootstrap.servers", strings.Join(bootstrap, ","), fmt.Sprintf("%q: %v", hp, err))
		}
	}
	if len(voters) > 0 && len(bootstrap) > 0 {
		return invalid("controller.quorum.bootstrap.servers", strings.Join(bootstrap, ","), "set either controller.quorum.voters or controller.quorum.bootstrap.servers, not both")
	}
	rolesText := strings.Join(roles, ",")
	if len(roles) > 0 && !slices.Contains(roles, "broker") {
		return invalid("process.roles", rolesText, "controller-only nodes are not supported yet: use broker,controller (combined) or broker")
	}
	if b.IsBrokerOnly() {
		// A broker without a vote follows the quorum as an observer: it
		// needs the voters' addresses and must not be one of them.
		if len(voters) == 0 {
			return invalid("controller.quorum.voters", "", "a broker-only node (process.roles=broker) needs the controllers' id@host:port list")
		}
		if _, ok := voters[b.NodeID]; ok {
			return invalid("process.roles", rolesText, fmt.Sprintf("node.id %d is in controller.quorum.voters, so it must have the controller role (broker,controller)", b.NodeID))
		}
		return nil
	}
	if len(voters) == 0 && len(bootstrap) == 0 {
		return nil
	}
	if len(roles) == 0 {
		return invalid("process.roles", "", "must be broker,controller (or broker) when controller.quorum.voters or controller.quorum.bootstrap.servers is set")
	}
	if _, ok := voters[b.NodeID]; !ok && len(voters) > 0 {
		return invalid("controller.quorum.voters", strings.Join(splitList(b.Raw["controller.quorum.voters"]), ","),
			fmt.Sprintf("node.id %d is not a voter (a combined node must be one)", b.NodeID))
	}
	names := b.ControllerListenerNames()
	if len(names) == 0 {
		return invalid("controller.listener.names", "", "must name the listener the quorum uses in a multi-node cluster")
	}
	ls, err := b.ListenerList()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ls, func(l Listener) bool { return l.Name == names[0] }) {
		return invalid("controller.listener.names", strings.Join(names, ","), fmt.Sprintf("listener %s is not in listeners", names[0]))
	}
	if !slices.ContainsFunc(ls, func(l Listener) bool { return !b.IsControllerListener(l.Name) }) {
		return invalid("listeners", b.Listeners, "a broker needs a listener for clients besides the controller listener")
	}
	return nil
}
