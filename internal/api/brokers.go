package api

import (
	"slices"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

// liveBroker is one broker as a client on req's listener reaches it.
type liveBroker struct {
	ID   int32
	Host string
	Port int32
	Rack *string
}

// liveBrokers lists the unfenced brokers a client can use, sorted by id,
// each at its endpoint on the listener req arrived on (a broker without an
// endpoint there is left out, as in Kafka). This node is always listed at
// its own advertised address.
func (e *Env) liveBrokers(req *server.Request, img *metadata.Image) []liveBroker {
	var out []liveBroker
	self := false
	for _, b := range img.Brokers {
		if b.Fenced && b.ID != e.NodeID {
			continue // a fenced broker serves nothing: clients must not be sent there
		}
		host, port, ok := b.Endpoint(listenerOf(req))
		if b.ID == e.NodeID {
			host, port = e.advertised(req)
			ok, self = true, true
		}
		if !ok {
			continue
		}
		out = append(out, liveBroker{ID: b.ID, Host: host, Port: port, Rack: b.Rack})
	}
	if !self {
		// Not registered yet (the first moments of a start): still name
		// this node, so a client has somewhere to go.
		host, port := e.advertised(req)
		out = append(out, liveBroker{ID: e.NodeID, Host: host, Port: port})
	}
	slices.SortFunc(out, func(a, b liveBroker) int { return int(a.ID - b.ID) })
	return out
}

// controllerID is the node a client should treat as the controller: the
// metadata quorum's leader (a combined node, so also a broker), or this
// node while no leader is known.
func (e *Env) controllerID() int32 {
	if st := e.Meta.QuorumStatus(); st.Leader != 0 {
		return metadata.NodeID(st.Leader)
	}
	return e.NodeID
}
