package cluster

import (
	"testing"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestRackAwarePlacement: broker.rack reaches the controller through each
// broker's registration, and a topic created with no assignment gets every
// partition's replicas on both racks (internal/controller/place.go, whose
// rule TestPlaceRackAware checks without brokers).
func TestRackAwarePlacement(t *testing.T) {
	t.Parallel()
	racks := []string{"a", "a", "b", "b"}
	var opts []testcluster.Option
	for i, r := range racks {
		opts = append(opts, testcluster.WithNodeProp(i, "broker.rack", r))
	}
	c := testcluster.New(t, 4, opts...)
	rackOf := map[int32]string{}
	for i, r := range racks {
		rackOf[c.Node(i).ID()] = r
	}
	adm := c.Admin(t)
	if _, err := adm.CreateTopic(ctx(t), 12, 2, nil, "racked"); err != nil {
		t.Fatal(err)
	}
	md, err := adm.Metadata(ctx(t), "racked")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range md.Brokers {
		if b.Rack == nil || *b.Rack != rackOf[b.NodeID] {
			t.Errorf("broker %d rack %v, want %s", b.NodeID, b.Rack, rackOf[b.NodeID])
		}
	}
	parts := md.Topics["racked"].Partitions.Sorted()
	if len(parts) != 12 {
		t.Fatalf("%d partitions", len(parts))
	}
	for _, p := range parts {
		if len(p.Replicas) != 2 || rackOf[p.Replicas[0]] == rackOf[p.Replicas[1]] {
			t.Errorf("partition %d: replicas %v on one rack", p.Partition, p.Replicas)
		}
	}
}
