package quota

import (
	"net"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Unix(1_700_000_000, 0)} }
func ent(u, c *metadata.EntityName) metadata.QuotaEntity {
	var e metadata.QuotaEntity
	if u != nil {
		e.User = *u
	}
	if c != nil {
		e.ClientID = *c
	}
	return e
}

func TestResolvePrecedence(t *testing.T) {
	u, du := metadata.Named("alice"), metadata.DefaultEntity()
	c, dc := metadata.Named("app"), metadata.DefaultEntity()
	levels := []struct {
		e            metadata.QuotaEntity
		user, client string
	}{
		{ent(&u, &c), "alice", "app"},
		{ent(&u, &dc), "alice", "app"},
		{ent(&u, nil), "alice", ""},
		{ent(&du, &c), "alice", "app"},
		{ent(&du, &dc), "alice", "app"},
		{ent(&du, nil), "alice", ""},
		{ent(nil, &c), "", "app"},
		{ent(nil, &dc), "", "app"},
	}
	// With levels i.. configured, level i wins; removing it from the top
	// walks down the list.
	for i := range levels {
		quotas := map[metadata.QuotaEntity]float64{}
		for j := i; j < len(levels); j++ {
			quotas[levels[j].e] = float64(j + 1)
		}
		bound, ut, ct, ok := Resolve(quotas, "alice", "app")
		if !ok || bound != float64(i+1) || ut != levels[i].user || ct != levels[i].client {
			t.Errorf("level %d (%s): got %v %q %q %v", i, levels[i].e, bound, ut, ct, ok)
		}
	}
	if _, _, _, ok := Resolve(map[metadata.QuotaEntity]float64{ent(&u, nil): 1}, "bob", "app"); ok {
		t.Errorf("alice's quota applied to bob")
	}
	if _, _, _, ok := Resolve(nil, "alice", "app"); ok {
		t.Errorf("quota without any configured")
	}
}

func TestThrottleTimeFormula(t *testing.T) {
	// 2000/s observed against 1000/s over a 10 s window: 10 s more.
	if got := ThrottleTime(2000, 1000, 10_000, 0); got != 10*time.Second {
		t.Errorf("got %v", got)
	}
	if got := ThrottleTime(1100, 1000, 10_000, 0); got != time.Second {
		t.Errorf("got %v", got)
	}
	if got := ThrottleTime(1000, 1000, 10_000, 0); got != 0 {
		t.Errorf("at the bound: %v", got)
	}
	if got := ThrottleTime(5000, 1000, 10_000, 11_000); got != 11*time.Second {
		t.Errorf("cap: %v", got)
	}
}

func TestSensorWindow(t *testing.T) {
	clk := newClock()
	s := NewSensor(11, time.Second)
	// A new sensor spreads its first burst over (samples-1) windows.
	if d := s.Record(50_000, 10_000, clk.now()); d != 0 {
		t.Errorf("50 kB on a new 10 kB/s sensor: throttled %v", d)
	}
	if r := s.Rate(clk.now()); r != 5000 {
		t.Errorf("rate %v, want 5000", r)
	}
	// 150 kB more: 200 kB over 10 s = 20 kB/s, twice the bound: throttle
	// (20-10)/10 × 10 s = 10 s.
	if d := s.Record(150_000, 10_000, clk.now()); d != 10*time.Second {
		t.Errorf("throttle %v, want 10s", d)
	}
	// After the whole window everything has expired.
	clk.advance(11 * time.Second)
	if r := s.Rate(clk.now()); r != 0 {
		t.Errorf("rate after the window: %v", r)
	}
	// Steady 9 kB/s for 20 s never throttles (the current sample counts
	// in full, so a rate right at the bound can throttle at a sample
	// boundary, as in Kafka); 12 kB/s does.
	for i := 0; i < 20; i++ {
		clk.advance(time.Second)
		if d := s.Record(9_000, 10_000, clk.now()); d != 0 {
			t.Fatalf("steady at the bound, second %d: throttled %v", i, d)
		}
	}
	var throttled bool
	for i := 0; i < 20; i++ {
		clk.advance(time.Second)
		if s.Record(12_000, 10_000, clk.now()) > 0 {
			throttled = true
		}
	}
	if !throttled {
		t.Errorf("20%% over the bound never throttled")
	}
	// Unrecord takes a value back.
	before := s.Rate(clk.now())
	s.Record(1000, 1e12, clk.now())
	s.Unrecord(1000, clk.now())
	if after := s.Rate(clk.now()); after != before {
		t.Errorf("rate %v after record+unrecord, was %v", after, before)
	}
}

func quotaImage(t *testing.T, recs ...metadata.ClientQuotaRecord) *metadata.Image {
	t.Helper()
	rs := make([]metadata.Record, len(recs))
	for i, r := range recs {
		rs[i] = r
	}
	img, err := metadata.Empty().Apply(rs)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func sp(s string) *string { return &s }

func TestManagerProduceAndSharing(t *testing.T) {
	clk := newClock()
	m := New(Config{Now: clk.now})
	if m.Enabled(Produce) || m.Record(Produce, "ANONYMOUS", "x", 1e9) != 0 {
		t.Fatal("throttled with no quota")
	}
	m.Update(quotaImage(t,
		metadata.ClientQuotaRecord{Entity: []metadata.QuotaEntityData{{Type: "client-id"}}, Key: "producer_byte_rate", Value: 1000},
		metadata.ClientQuotaRecord{Entity: []metadata.QuotaEntityData{{Type: "user", Name: sp("bob")}}, Key: "producer_byte_rate", Value: 1000},
	))
	if !m.Enabled(Produce) || m.Enabled(Fetch) {
		t.Fatal("enabled kinds")
	}
	// clients/<default>: each client id has its own sensor.
	if m.Record(Produce, "ANONYMOUS", "a", 10_000) != 0 || m.Record(Produce, "ANONYMOUS", "b", 10_000) != 0 {
		t.Errorf("10 kB each on separate 1 kB/s sensors throttled")
	}
	if m.Record(Produce, "ANONYMOUS", "a", 10_000) == 0 {
		t.Errorf("a at 2x its quota not throttled")
	}
	// users/bob: one sensor for all of bob's client ids.
	if m.Record(Produce, "bob", "a", 10_000) != 0 {
		t.Errorf("bob's first 10 kB throttled")
	}
	if m.Record(Produce, "bob", "b", 10_000) == 0 {
		t.Errorf("bob's second client not sharing bob's sensor")
	}
	if max, ok := m.MaxInWindow(Produce, "x", "y"); !ok || max != 10_000 {
		t.Errorf("MaxInWindow %v %v", max, ok)
	}
	// Removing the quotas lifts them; sensors stay.
	m.Update(metadata.Empty())
	if m.Enabled(Produce) || m.Record(Produce, "ANONYMOUS", "a", 1e9) != 0 {
		t.Errorf("still throttled after removal")
	}
}

func TestManagerConnections(t *testing.T) {
	clk := newClock()
	m := New(Config{Now: clk.now})
	ip := net.ParseIP("127.0.0.1")
	if m.Connection(ip) != 0 {
		t.Fatal("throttled without quota")
	}
	m.Update(quotaImage(t, metadata.ClientQuotaRecord{Entity: []metadata.QuotaEntityData{{Type: "ip", Name: sp("127.0.0.1")}},
		Key: "connection_creation_rate", Value: 2}))
	var throttled int
	for i := 0; i < 40; i++ {
		if m.Connection(ip) > 0 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Errorf("40 connections at once under a 2/s quota: none throttled")
	}
	if m.Connection(net.ParseIP("10.0.0.1")) != 0 {
		t.Errorf("another ip throttled")
	}
}

func TestConfigFrom(t *testing.T) {
	b, err := config.Build(map[string]string{"quota.window.num": "5", "quota.window.size.seconds": "2"})
	if err != nil {
		t.Fatal(err)
	}
	c := ConfigFrom(b)
	if c.Samples != 5 || c.Window != 2*time.Second || c.ControllerSamples != 11 || c.ControllerWindow != time.Second {
		t.Errorf("%+v", c)
	}
	if _, err := config.Build(map[string]string{"quota.window.num": "0"}); err == nil {
		t.Errorf("quota.window.num=0 accepted")
	}
}
