package txn

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestInitProducerIDRetried: a producer re-initializing with its id and
// epoch (KIP-360, as kgo does to abort after a commit of unknown outcome)
// that lost the answer and sends the same request again gets the epoch
// the first one bumped to, not PRODUCER_FENCED (found by the chaos
// test's transactional producer: the retry fenced the only instance). An
// older epoch still is fenced, and a new instance's init ends the retry
// window.
func TestInitProducerIDRetried(t *testing.T) {
	e := newEnv(t, t.TempDir())
	id := "tx"
	res := e.c.InitProducerID(4, &id, 10000, -1, -1)
	if res.Code != 0 || res.Epoch != 0 {
		t.Fatalf("init: %+v", res)
	}
	pid := res.ProducerID
	for i := range 2 {
		if r := e.c.InitProducerID(4, &id, 10000, pid, 0); r.Code != 0 || r.ProducerID != pid || r.Epoch != 1 {
			t.Fatalf("re-init with epoch 0, attempt %d: %+v (%v), want epoch 1", i, r, kerr.ErrorForCode(r.Code))
		}
	}
	if r := e.c.InitProducerID(4, &id, 10000, pid, 1); r.Code != 0 || r.Epoch != 2 {
		t.Fatalf("re-init with epoch 1: %+v, want epoch 2", r)
	}
	if r := e.c.InitProducerID(4, &id, 10000, pid, 0); r.Code != kerr.ProducerFenced.Code {
		t.Fatalf("re-init with epoch 0 after epoch 2: %+v, want PRODUCER_FENCED", r)
	}
	if r := e.c.InitProducerID(4, &id, 10000, -1, -1); r.Code != 0 || r.Epoch != 3 {
		t.Fatalf("a new instance: %+v, want epoch 3", r)
	}
	if r := e.c.InitProducerID(4, &id, 10000, pid, 2); r.Code != kerr.ProducerFenced.Code {
		t.Fatalf("re-init with epoch 2 after a new instance took 3: %+v, want PRODUCER_FENCED", r)
	}
}
