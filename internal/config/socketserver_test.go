package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSocketServerKeys(t *testing.T) {
	b, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.QueuedMaxRequestBytes != 512<<20 || b.ConnectionsMaxIdle() != 10*time.Minute {
		t.Fatalf("defaults: queued.max.request.bytes %d, connections.max.idle %v", b.QueuedMaxRequestBytes, b.ConnectionsMaxIdle())
	}
	desc := map[string]Entry{}
	for _, e := range b.Describe() {
		desc[e.Name] = e
	}
	if e := desc["queued.max.request.bytes"]; e.Value != "536870912" || e.Source != SourceDefault || e.Type != TypeLong {
		t.Errorf("queued.max.request.bytes described as %+v", e)
	}
	if e := desc["connections.max.idle.ms"]; e.Value != "600000" || e.Source != SourceDefault {
		t.Errorf("connections.max.idle.ms described as %+v", e)
	}

	for _, ok := range []map[string]string{
		{"queued.max.request.bytes": "-1", "connections.max.idle.ms": "-1"},
		{"queued.max.request.bytes": "0"},
		{"queued.max.request.bytes": "104857600"}, // = socket.request.max.bytes
		{"queued.max.request.bytes": "2048", "socket.request.max.bytes": "1024", "connections.max.idle.ms": "300"},
	} {
		b, err := Build(ok)
		if err != nil {
			t.Errorf("Build(%v): %v", ok, err)
			continue
		}
		if ok["connections.max.idle.ms"] == "-1" && b.ConnectionsMaxIdle() != 0 {
			t.Errorf("connections.max.idle.ms=-1: %v, want never", b.ConnectionsMaxIdle())
		}
	}
	for _, c := range []struct {
		props map[string]string
		says  string
	}{
		{map[string]string{"queued.max.request.bytes": "1048576"}, "socket.request.max.bytes"},
		{map[string]string{"socket.request.max.bytes": "1073741824"}, "socket.request.max.bytes"}, // over the 512 MiB default
		{map[string]string{"connections.max.idle.ms": "0"}, "-1"},
		{map[string]string{"connections.max.idle.ms": "soon"}, "integer"},
	} {
		_, err := Build(c.props)
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Build(%v) = %v, want an invalid value error mentioning %q", c.props, err, c.says)
		}
	}
}
