package integration

import (
	"fmt"
	"net/http"
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
	if strings.Contains(body, "Reset offsets") {
		t.Error("a share group's page links the consumer-group offset reset")
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
