package main

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRecordPrinter(t *testing.T) {
	r := &kgo.Record{Topic: "t", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("vv"),
		Timestamp: time.UnixMilli(1700000000123), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}}
	for format, want := range map[string]string{
		"table":                          "vv\n",
		`%t/%p@%o %T %k=%v [%h] %K %S\n`: "t/2@7 1700000000123 k=vv [a=1,b=2] 1 2\n",
		`100%% %v\t|\\`:                  "100% vv\t|\\",
		"json":                           `{"topic":"t","partition":2,"offset":7,"timestamp":1700000000123,"key":"k","value":"vv","headers":{"a":"1","b":"2"}}` + "\n",
	} {
		p, err := newRecordPrinter(format)
		if err != nil {
			t.Fatalf("%q: %v", format, err)
		}
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		p.print(w, r)
		w.Flush()
		if b.String() != want {
			t.Errorf("%q: got %q, want %q", format, b.String(), want)
		}
	}
	for _, bad := range []string{"%x", "yaml"} {
		if _, err := newRecordPrinter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseFrom(t *testing.T) {
	for _, ok := range []string{"beginning", "end", "42", "offset:42", "-3", "timestamp:1700000000000", "timestamp:2026-01-02T15:04:05Z"} {
		if _, err := parseFrom(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "yesterday", "offset:x", "timestamp:soon"} {
		if _, err := parseFrom(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
