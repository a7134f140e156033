package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleShareGroup: a share group with a running share consumer is
// listed with its type, and its page shows what kafka-share-groups
// --describe shows: state, coordinator, the member with its assignment,
// and each share-partition's start offset and lag.
func TestConsoleShareGroup(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	addr := tb.Addr()
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	topic, group := topicName(t, ""), topicName(t, "share")
	createTopic(t, adm, topic, 2, nil)
	setShareConfigs(t, cl, group, "share.auto.offset.reset", "earliest")
	produceToPartitions(t, addr, topic, 5, 0, 1)
	sc := startShareConsumer(t, addr, group, "console-share", topic)
	waitFor(t, 30*time.Second, "the share consumer got every record", func() error {
		if n := sc.got.Load(); n < 10 {
			return fmt.Errorf("%d/10 records", n)
		}
		return nil
	})

	list := consoleGet(t, base+"/groups", http.StatusOK)
	if !strings.Contains(list, `>`+group+`</a></td><td>share</td>`) {
		t.Errorf("groups page: want %s listed as share", group)
	}
	var body string
	waitFor(t, 15*time.Second, "the share group's page with its member and offsets", func() error {
		body = consoleGet(t, base+"/groups/"+group, http.StatusOK)
		for _, want := range []string{`id="state">Stable<`, "console-share", topic + ": 0, 1",
			`<td>` + topic + `</td><td>0</td><td>5</td><td>0</td>`, `<td>` + topic + `</td><td>1</td><td>5</td><td>0</td>`} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("no %q", want)
			}
		}
		return nil
	})
	checkAccessible(t, "share group", body)
	if !strings.Contains(body, `<figure class="lag">`) || !strings.Contains(body, `id="total-lag">0<`) {
		t.Error("share group page: want the total lag, 0, and its chart")
	}
	if !strings.Contains(body, `href="/groups/`+group+`/reset"`) {
		t.Error("share group page: want a link to reset its offsets")
	}

	sc.Close()
	waitFor(t, 30*time.Second, "the share group Empty after its member left", func() error {
		body = consoleGet(t, base+"/groups/"+group, http.StatusOK)
		if !strings.Contains(body, `id="state">Empty<`) || !strings.Contains(body, "No members.") {
			return fmt.Errorf("not Empty without members yet")
		}
		return nil
	})
}

// TestConsoleShareGroupReset: a share group's start offsets are reset as
// kafka-share-groups --reset-offsets does: previewed (earliest, latest,
// an offset, a timestamp) from the share-partitions' start offsets,
// refused while a member is in the group, applied (AlterShareGroupOffsets)
// once it is Empty.
func TestConsoleShareGroupReset(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	addr := tb.Addr()
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	topic, group := topicName(t, ""), topicName(t, "share")
	createTopic(t, adm, topic, 1, nil)
	setShareConfigs(t, cl, group, "share.auto.offset.reset", "earliest")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	produceBrowseRecords(t, addr, topic, 10, t0) // offsets 0-9, one second apart
	sc := startShareConsumer(t, addr, group, "console-share-reset", topic)
	waitFor(t, 30*time.Second, "the share consumer acknowledged every record", func() error {
		offs, err := adm.DescribeShareGroupOffsets(testCtx(t, 5*time.Second), group)
		if err != nil {
			return err
		}
		if o, _ := offs[group].Offsets.Lookup(topic, 0); o.StartOffset != 10 {
			return fmt.Errorf("start offset %d, want 10 (%d records consumed)", o.StartOffset, sc.got.Load())
		}
		return nil
	})

	preview := base + "/groups/" + group + "/reset?topic=" + url.QueryEscape(topic)
	tok := consoleCSRF(t, base+"/topics") // the session's form token, from any form
	if body := consoleGet(t, preview+"&to=earliest", http.StatusOK); strings.Contains(body, `id="apply"`) || !strings.Contains(body, "only an Empty group is reset") {
		t.Error("preview of a Stable share group: want the refusal and no apply form")
	}
	status, loc := consolePost(t, base+"/groups/"+group+"/reset", url.Values{"csrf": {tok}, "topic": {topic}, "to": {"earliest"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "error=") {
		t.Errorf("apply to a Stable share group: %d %s, want a redirect with an error", status, loc)
	}

	sc.Close()
	waitFor(t, 30*time.Second, "the share group Empty", func() error {
		if body := consoleGet(t, base+"/groups/"+group, http.StatusOK); !strings.Contains(body, `id="state">Empty<`) {
			return fmt.Errorf("not Empty yet")
		}
		return nil
	})
	for _, c := range []struct{ to, value, row0 string }{
		{"earliest", "", "<td>0</td><td>10</td><td>0</td>"},
		{"latest", "", "<td>0</td><td>10</td><td>10</td>"},
		{"offset", "4", "<td>0</td><td>10</td><td>4</td>"},
		{"timestamp", "2026-03-01T12:00:03", "<td>0</td><td>10</td><td>3</td>"},
	} {
		body := consoleGet(t, preview+"&to="+c.to+"&value="+url.QueryEscape(c.value), http.StatusOK)
		if !strings.Contains(body, c.row0) || !strings.Contains(body, `id="apply"`) || !strings.Contains(body, "share group") {
			t.Errorf("preview to %s %s: want the share group's partition 0 row %s and the apply form", c.to, c.value, c.row0)
		}
	}
	checkAccessible(t, "share reset", consoleGet(t, preview+"&to=earliest", http.StatusOK))

	status, loc = consolePost(t, base+"/groups/"+group+"/reset", url.Values{"csrf": {tok}, "topic": {topic}, "to": {"offset"}, "value": {"4"}})
	if status != http.StatusSeeOther || strings.Contains(loc, "error") {
		t.Fatalf("apply: %d %s", status, loc)
	}
	offs, err := adm.DescribeShareGroupOffsets(testCtx(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs[group].Offsets.Lookup(topic, 0); o.StartOffset != 4 || o.Lag != 6 {
		t.Errorf("after the reset: start offset %d, lag %d; want 4 and 6", o.StartOffset, o.Lag)
	}
	if body := consoleGet(t, base+"/groups/"+group, http.StatusOK); !strings.Contains(body, `id="total-lag">6<`) {
		t.Error("share group page after the reset: want total lag 6")
	}
	// The background sampler (every 5 s) samples share groups too: the
	// chart's data, first sampled at lag 0, gains the lag after the reset.
	waitFor(t, 20*time.Second, "a lag sample of 6 after the reset", func() error {
		var v struct{ Samples []float64 }
		if err := json.Unmarshal([]byte(consoleGet(t, base+"/groups/"+group+"/lag.json", http.StatusOK)), &v); err != nil {
			return err
		}
		if n := len(v.Samples); n < 2 || v.Samples[0] != 0 || v.Samples[n-1] != 6 {
			return fmt.Errorf("samples %v", v.Samples)
		}
		return nil
	})
}
