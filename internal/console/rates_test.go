package console

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRatesRingKeepsTheLastN(t *testing.T) {
	r := newRates(3)
	for i := range 5 {
		r.add(float64(i), float64(10*i))
	}
	in, out := r.snapshot()
	if len(in) != 3 || in[0] != 2 || in[2] != 4 || out[2] != 40 {
		t.Fatalf("ring: in %v out %v, want the last 3 samples", in, out)
	}
}

func TestSparklineScalesToTheBox(t *testing.T) {
	c := sparkline("Bytes in", []float64{0, 512, 2048})
	if c.Empty || c.Now != "2.0 KiB/s" {
		t.Fatalf("chart %+v", c)
	}
	pts := strings.Fields(c.Points)
	// x from 0 to the width; the largest sample at the top (y=1), zero at the bottom.
	if len(pts) != 3 || pts[0] != "0.0,39.0" || pts[2] != "240.0,1.0" {
		t.Fatalf("points %q", c.Points)
	}
	if e := sparkline("Bytes out", nil); !e.Empty || e.Points != "" {
		t.Fatalf("no samples: %+v", e)
	}
}

func TestPaginateBounds(t *testing.T) {
	for _, c := range []struct {
		url                  string
		total                int
		page, from, to, last int
		prev, next           bool
	}{
		{"/topics", 0, 1, 0, 0, 1, false, false},
		{"/topics?q=a", 120, 1, 0, 50, 3, false, true},
		{"/topics?q=a&page=3", 120, 3, 100, 120, 3, true, false},
		{"/topics?page=99", 120, 3, 100, 120, 3, true, false},
		{"/topics?page=-4", 120, 1, 0, 50, 3, false, true},
	} {
		p := paginate(httptest.NewRequest("GET", c.url, nil), c.total, 50)
		if p.Page != c.page || p.From != c.from || p.To != c.to || p.Pages != c.last || (p.Prev != "") != c.prev || (p.Next != "") != c.next {
			t.Errorf("%s of %d: %+v", c.url, c.total, p)
		}
		if p.Next != "" && !strings.Contains(p.Next, "q=a") && strings.Contains(c.url, "q=a") {
			t.Errorf("%s: next link %q drops the search", c.url, p.Next)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1772366412000":             1772366412000,
		"2026-03-01T12:00:12Z":      1772366412000,
		"2026-03-01T12:00:12":       1772366412000,
		"2026-03-01T12:00":          1772366400000,
		"2026-03-01T13:00:12+01:00": 1772366412000,
	} {
		if got, err := parseTime(in); err != nil || got != want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseTime("yesterday"); err == nil {
		t.Error("parseTime(yesterday): want an error")
	}
}

func TestSafeNextStaysOnTheConsole(t *testing.T) {
	for in, want := range map[string]string{"/topics?q=a": "/topics?q=a", "//evil.example/": "/", "https://evil.example/": "/", "": "/", "/\\evil": "/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
