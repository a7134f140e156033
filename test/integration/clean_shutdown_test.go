package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCleanShutdownMarker: a clean Close leaves .kafka_cleanshutdown, the
// next start removes it before serving (so a later crash cannot be taken
// for a clean stop), and the data written before is all there.
func TestCleanShutdownMarker(t *testing.T) {
	tb := startBroker(t)
	marker := filepath.Join(tb.props["log.dirs"], ".kafka_cleanshutdown")
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 3, nil)
	cl := newClient(t, tb.Addr())
	var rs []*kgo.Record
	for i := range 30 {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	produceSync(t, cl, rs...)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("marker present while the broker runs")
	}
	tb.Close()
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("no marker after a clean close: %v", err)
	}
	tb.start()
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("marker still present after the restart")
	}
	end, err := newAdmin(t, tb.Addr()).ListEndOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	end.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 30 {
		t.Fatalf("end offsets sum to %d after the restart, want 30", total)
	}
}
