package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConsoleBrowserReset: in Chromium, from a group's page, the reset
// form previews the new offsets of a topic's partitions and applying it
// commits exactly those offsets.
func TestConsoleBrowserReset(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	b := newBrowser(t, base)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), topicName(t, "group")
	createTopic(t, adm, topic, 2, nil)
	produceBrowseRecords(t, tb.Addr(), topic, 10, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) // all to partition 0
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, 4, -1)
	offs.AddOffset(topic, 1, 0, -1)
	if err := adm.CommitAllOffsets(testCtx(t, 15*time.Second), group, offs); err != nil {
		t.Fatal(err)
	}

	b.open("/groups/" + group)
	b.submit(chromedp.Click(chromedp.CSS(`a[href$="/reset"]`)))
	b.submit(chromedp.SetValue(chromedp.ID("topic"), topic), chromedp.SetValue(chromedp.ID("to"), "offset"),
		chromedp.SetValue(chromedp.ID("value"), "7"), chromedp.Click(chromedp.CSS(`form.inline button[type=submit]`)))
	rows := b.text("#preview tbody")
	if got := strings.Join(strings.Fields(rows), " "); got != "0 4 7 0 10 1 0 0 0 0" {
		t.Fatalf("preview %q: want partition 0 from 4 to 7 (log 0..10), partition 1 at 0 (empty log)", got)
	}
	b.screenshot("reset-preview")
	b.submit(chromedp.Click(chromedp.ID("apply")))
	if got := b.text(".flash.ok"); got != "reset 2 partitions of "+topic {
		t.Fatalf("after apply: flash %q", got)
	}
	if loc := b.location(); !strings.Contains(loc, "/groups/"+group+"?") {
		t.Errorf("after apply: at %s, want the group's page", loc)
	}
	fetched, err := adm.FetchOffsets(testCtx(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup(topic, 0); o.At != 7 {
		t.Errorf("partition 0 committed %d after the reset, want 7", o.At)
	}
	if o, _ := fetched.Lookup(topic, 1); o.At != 0 {
		t.Errorf("partition 1 committed %d after the reset, want 0", o.At)
	}
	b.screenshot("reset-applied")
}
