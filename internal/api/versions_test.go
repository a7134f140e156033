package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestAdvertisedVersionsCoverKafka39 checks that for every key we serve we
// advertise at least Kafka 3.9's range, and never more than kmsg can decode.
func TestAdvertisedVersionsCoverKafka39(t *testing.T) {
	k39 := kversion.V3_9_0()
	for _, e := range Versions() {
		req := kmsg.RequestForKey(e.key)
		if req == nil {
			t.Fatalf("key %d registered but unknown to kmsg", e.key)
		}
		if e.max > req.MaxVersion() {
			t.Errorf("%s: advertise max %d, kmsg decodes up to %d", kmsg.NameForKey(e.key), e.max, req.MaxVersion())
		}
		if e.min != 0 {
			t.Errorf("%s: min version %d; we accept everything from v0", kmsg.NameForKey(e.key), e.min)
		}
		if max, ok := k39.LookupMaxKeyVersion(e.key); ok && e.max < max {
			t.Errorf("%s: advertise max %d, Kafka 3.9 advertises %d", kmsg.NameForKey(e.key), e.max, max)
		}
	}
}
