package metrics

import "testing"

func TestThroughputSumsTopicBytes(t *testing.T) {
	in0, out0 := Throughput()
	Produced("throughput-a", 100, 1, false)
	Produced("throughput-b", 50, 1, false)
	Produced("throughput-b", 999, 1, true) // failed: no bytes in
	Fetched("throughput-a", 70, 1)
	in, out := Throughput()
	if in-in0 != 150 || out-out0 != 70 {
		t.Fatalf("Throughput moved by in %v out %v, want 150 and 70", in-in0, out-out0)
	}
	ForgetTopic("throughput-a")
	ForgetTopic("throughput-b")
}
