package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

// TestConsoleOverview: the cluster page counts brokers, topics and
// partitions from the broker's own Metadata answers.
func TestConsoleOverview(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	createTopic(t, newAdmin(t, tb.Addr()), topicName(t, ""), 3, nil)
	body := consoleGet(t, base+"/", http.StatusOK)
	for _, want := range []string{`id="controller">1<`, `id="brokers">1<`, `id="partitions">3<`, `id="offline" >0<`, "Bytes in", "Bytes out"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	checkAccessible(t, "overview", body)
	consoleGet(t, base+"/nope", http.StatusNotFound)
	css := consoleGet(t, base+"/static/style.css", http.StatusOK)
	if !strings.Contains(css, "body") {
		t.Error("style.css is not served")
	}
}

// TestConsoleTopicsSearchAndPages: the topics list filters by name and
// never shows more than a page.
func TestConsoleTopicsSearchAndPages(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	adm := newAdmin(t, tb.Addr())
	var names []string
	for i := range 55 {
		names = append(names, fmt.Sprintf("many-%02d", i))
	}
	resps, err := adm.CreateTopics(testCtx(t, 30*time.Second), 1, 1, nil, append(names, "other")...)
	if err != nil || resps.Error() != nil {
		t.Fatalf("create topics: %v %v", err, resps.Error())
	}
	body := consoleGet(t, base+"/topics?q=many", http.StatusOK)
	if strings.Contains(body, ">other<") || !strings.Contains(body, ">many-00<") || strings.Contains(body, ">many-50<") {
		t.Error("page 1 of q=many: want many-00..many-49 only")
	}
	if !strings.Contains(body, "page 1 of 2 (55 in all)") {
		t.Error("page 1 does not say it is one of 2")
	}
	checkAccessible(t, "topics", body)
	body = consoleGet(t, base+"/topics?q=many&page=2", http.StatusOK)
	if !strings.Contains(body, ">many-54<") || strings.Contains(body, ">many-49<") {
		t.Error("page 2: want many-50..many-54")
	}
	body = consoleGet(t, base+"/topics?q=OTHER", http.StatusOK)
	if !strings.Contains(body, ">other<") || strings.Contains(body, ">many-00<") {
		t.Error("search is not a case-insensitive substring match")
	}
}

// TestConsoleTopicActions: create, edit a config, add partitions, delete,
// each through the console's forms and checked with kadm.
func TestConsoleTopicActions(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	tok := consoleCSRF(t, base+"/topics")
	status, loc := consolePost(t, base+"/topics", url.Values{"csrf": {tok}, "name": {topic}, "partitions": {"2"}, "replication_factor": {"1"}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/topics/"+topic) {
		t.Fatalf("create: %d %s", status, loc)
	}
	body := consoleGet(t, base+loc, http.StatusOK)
	if !strings.Contains(body, "created "+topic) || !strings.Contains(body, "2 partitions") {
		t.Fatalf("topic page after create lacks the message or the partitions")
	}
	checkAccessible(t, "topic", body)

	// A form without the token is refused, and changes nothing.
	if status, _ := consolePost(t, base+"/topics/"+topic+"/configs", url.Values{"key": {"retention.ms"}, "value": {"1"}}); status != http.StatusForbidden {
		t.Errorf("config change without a form token: status %d, want 403", status)
	}
	status, loc = consolePost(t, base+"/topics/"+topic+"/configs", url.Values{"csrf": {tok}, "key": {"retention.ms"}, "value": {"123456"}, "op": {"set"}})
	if status != http.StatusSeeOther || strings.Contains(loc, "error=") {
		t.Fatalf("set config: %d %s", status, loc)
	}
	rcs, err := adm.DescribeTopicConfigs(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rcs.On(topic, nil); err != nil || !hasConfig(c.Configs, "retention.ms", "123456") {
		t.Fatalf("retention.ms not set through the console: %v", err)
	}
	body = consoleGet(t, base+"/topics/"+topic, http.StatusOK)
	if !strings.Contains(body, `<th scope="row">retention.ms</th><td>123456</td><td>DYNAMIC_TOPIC_CONFIG</td>`) {
		t.Error("topic page does not show retention.ms=123456 from DYNAMIC_TOPIC_CONFIG")
	}
	status, loc = consolePost(t, base+"/topics/"+topic+"/configs", url.Values{"csrf": {tok}, "key": {"retention.ms"}, "value": {"nope"}, "op": {"set"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "error=") {
		t.Errorf("an invalid value: want a redirect with the broker's error, got %d %s", status, loc)
	}

	status, loc = consolePost(t, base+"/topics/"+topic+"/partitions", url.Values{"csrf": {tok}, "add": {"3"}})
	if status != http.StatusSeeOther || strings.Contains(loc, "error=") {
		t.Fatalf("add partitions: %d %s", status, loc)
	}
	td, err := adm.ListTopics(testCtx(t, 10*time.Second), topic)
	if err != nil || len(td[topic].Partitions) != 5 {
		t.Fatalf("partitions after adding 3 to 2: %v %v", len(td[topic].Partitions), err)
	}

	status, loc = consolePost(t, base+"/topics/"+topic+"/delete", url.Values{"csrf": {tok}, "confirm": {"wrong"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "error=") {
		t.Fatalf("delete with a wrong confirmation: %d %s", status, loc)
	}
	status, loc = consolePost(t, base+"/topics/"+topic+"/delete", url.Values{"csrf": {tok}, "confirm": {topic}})
	if status != http.StatusSeeOther || strings.Contains(loc, "error=") {
		t.Fatalf("delete: %d %s", status, loc)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		td, err := adm.ListTopics(testCtx(t, 10*time.Second))
		if err == nil && !td.Has(topic) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic still listed after delete (err %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	consoleGet(t, base+"/topics/"+topic, http.StatusNotFound)
}

func hasConfig(cs []kadm.Config, key, value string) bool {
	for _, c := range cs {
		if c.Key == key && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// produceBrowseRecords writes n JSON records with headers to partition 0,
// record i at base+i seconds.
func produceBrowseRecords(t *testing.T, addr, topic string, n int, base time.Time) {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(fmt.Sprintf("key-%d", i)),
			Value:     []byte(fmt.Sprintf(`{"n":%d,"word":"%s"}`, i, map[bool]string{true: "even", false: "odd"}[i%2 == 0])),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprintf("hv-%d", i))}},
			Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produceSync(t, cl, rs...)
}

// TestConsoleMessageBrowser: newest first, by offset, by timestamp, a
// filter over the window, and the same window as JSON lines.
func TestConsoleMessageBrowser(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	produceBrowseRecords(t, tb.Addr(), topic, 20, t0)
	page := base + "/topics/" + topic + "/messages"

	body := consoleGet(t, page+"?limit=5", http.StatusOK)
	checkAccessible(t, "messages", body)
	if !strings.Contains(body, "offsets 15–20 of 0–20; 5 read, 5 shown") {
		t.Errorf("newest window: want offsets 15–20")
	}
	if i19, i15 := strings.Index(body, "key-19"), strings.Index(body, "key-15"); i19 < 0 || i15 < 0 || i19 > i15 || strings.Contains(body, "key-14<") {
		t.Error("newest window is not offsets 19..15, newest first")
	}
	if !strings.Contains(body, "&#34;word&#34;: &#34;odd&#34;") || !strings.Contains(body, "hv-19") {
		t.Error("value not pretty-printed as JSON, or header missing")
	}

	body = consoleGet(t, page+"?mode=offset&offset=3&limit=2", http.StatusOK)
	if !strings.Contains(body, "key-3<") || !strings.Contains(body, "key-4<") || strings.Contains(body, "key-5<") || strings.Contains(body, "key-2<") {
		t.Error("offset window 3..4 wrong")
	}

	ts := t0.Add(7 * time.Second).Format("2006-01-02T15:04:05")
	body = consoleGet(t, page+"?mode=timestamp&limit=3&timestamp="+url.QueryEscape(ts), http.StatusOK)
	if !strings.Contains(body, "offsets 7–10") || !strings.Contains(body, "key-7<") || strings.Contains(body, "key-6<") {
		t.Errorf("timestamp %s: want offsets 7–10", ts)
	}

	body = consoleGet(t, page+"?limit=10&q=EVEN", http.StatusOK)
	if !strings.Contains(body, "10 read, 5 shown") || strings.Contains(body, "key-11<") || !strings.Contains(body, "key-18<") {
		t.Error("filter over the window: want the 5 even records of 10..19")
	}

	consoleGet(t, page+"?partition=1", http.StatusOK) // an empty partition
	consoleGet(t, page+"?partition=9", http.StatusNotFound)
	consoleGet(t, page+"?mode=offset&offset=x", http.StatusBadRequest)
	consoleGet(t, base+"/topics/nosuch/messages", http.StatusNotFound)

	dl := consoleGet(t, base+"/topics/"+topic+"/messages.jsonl?limit=4", http.StatusOK)
	sc := bufio.NewScanner(strings.NewReader(dl))
	var offsets []int64
	for sc.Scan() {
		var m struct {
			Offset  int64   `json:"offset"`
			Key     *string `json:"key"`
			Value   *string `json:"value"`
			Headers []struct{ Key, Value string }
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if m.Key == nil || *m.Key != fmt.Sprintf("key-%d", m.Offset) || m.Value == nil || len(m.Headers) != 1 {
			t.Errorf("line %q does not carry its record", sc.Text())
		}
		offsets = append(offsets, m.Offset)
	}
	if fmt.Sprint(offsets) != "[19 18 17 16]" {
		t.Errorf("JSON lines offsets %v, want [19 18 17 16]", offsets)
	}
}

// TestConsoleReadOnly: console.read.only=true shows no forms that change
// anything and refuses them.
func TestConsoleReadOnly(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t, withProp("console.read.only", "true"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	for _, p := range []string{"/topics", "/topics/" + topic} {
		if body := consoleGet(t, base+p, http.StatusOK); strings.Contains(body, `method="post"`) || !strings.Contains(body, "read-only") {
			t.Errorf("%s in read-only mode: has a change form or lacks the read-only badge", p)
		}
	}
	status, _ := consolePost(t, base+"/topics/"+topic+"/delete", url.Values{"confirm": {topic}})
	if status != http.StatusForbidden {
		t.Errorf("delete in read-only mode: status %d, want 403", status)
	}
	if _, err := newAdmin(t, tb.Addr()).ListTopics(testCtx(t, 10*time.Second), topic); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleGroups: a group's committed offsets and lag.
func TestConsoleGroups(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	produceBrowseRecords(t, tb.Addr(), topic, 10, time.Now())
	group := topicName(t, "group")
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, 4, -1)
	if err := adm.CommitAllOffsets(testCtx(t, 15*time.Second), group, offs); err != nil {
		t.Fatalf("commit: %v", err)
	}
	body := consoleGet(t, base+"/groups", http.StatusOK)
	checkAccessible(t, "groups", body)
	if !strings.Contains(body, ">"+group+"<") {
		t.Fatal("group not listed")
	}
	body = consoleGet(t, base+"/groups/"+group, http.StatusOK)
	checkAccessible(t, "group", body)
	if !strings.Contains(body, `id="total-lag">6<`) || !strings.Contains(body, "<td>4</td><td>10</td><td>6</td>") {
		t.Error("group page: want committed 4, end 10, lag 6")
	}
	consoleGet(t, base+"/groups/nosuch", http.StatusNotFound)
}

// TestConsoleGroupReset: a reset is previewed (earliest, offset,
// timestamp), then applied to an Empty group; a group with a live member
// is refused.
func TestConsoleGroupReset(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	produceBrowseRecords(t, tb.Addr(), topic, 10, t0) // all to partition 0
	group := topicName(t, "group")
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, 4, -1)
	offs.AddOffset(topic, 1, 0, -1)
	if err := adm.CommitAllOffsets(testCtx(t, 15*time.Second), group, offs); err != nil {
		t.Fatalf("commit: %v", err)
	}
	preview := base + "/groups/" + group + "/reset?topic=" + url.QueryEscape(topic)
	for _, c := range []struct{ to, value, row0 string }{
		{"earliest", "", "<td>0</td><td>4</td><td>0</td>"},
		{"latest", "", "<td>0</td><td>4</td><td>10</td>"},
		{"offset", "7", "<td>0</td><td>4</td><td>7</td>"},
		{"offset", "99", "<td>0</td><td>4</td><td>10</td>"},
		{"timestamp", "2026-03-01T12:00:03", "<td>0</td><td>4</td><td>3</td>"},
	} {
		body := consoleGet(t, preview+"&to="+c.to+"&value="+url.QueryEscape(c.value), http.StatusOK)
		if !strings.Contains(body, c.row0) || !strings.Contains(body, `id="apply"`) {
			t.Errorf("preview to %s %s: want partition 0 row %s and the apply form", c.to, c.value, c.row0)
		}
	}
	checkAccessible(t, "reset", consoleGet(t, preview+"&to=earliest", http.StatusOK))
	if body := consoleGet(t, preview+"&to=offset&value=x", http.StatusOK); strings.Contains(body, `id="apply"`) || !strings.Contains(body, "want an offset") {
		t.Error("a bad offset: want an error and no apply form")
	}

	tok := consoleCSRF(t, preview+"&to=offset&value=7")
	status, loc := consolePost(t, base+"/groups/"+group+"/reset", url.Values{"csrf": {tok}, "topic": {topic}, "to": {"offset"}, "value": {"7"}})
	if status != http.StatusSeeOther || strings.Contains(loc, "error") {
		t.Fatalf("apply: %d %s", status, loc)
	}
	fetched, err := adm.FetchOffsets(testCtx(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup(topic, 0); o.At != 7 {
		t.Errorf("partition 0 committed %d after the reset, want 7", o.At)
	}
	if o, _ := fetched.Lookup(topic, 1); o.At != 0 {
		t.Errorf("partition 1 committed %d after the reset, want 0 (clamped to its end)", o.At)
	}

	// A live member: the reset is refused and nothing changes.
	member := newClient(t, tb.Addr(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	deadline := time.Now().Add(30 * time.Second)
	for {
		member.PollRecords(testCtx(t, 200*time.Millisecond), 1)
		dg, err := adm.DescribeGroups(testCtx(t, 5*time.Second), group)
		if err == nil && dg[group].State == "Stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group never Stable: %v %v", dg[group].State, err)
		}
	}
	if body := consoleGet(t, preview+"&to=earliest", http.StatusOK); strings.Contains(body, `id="apply"`) || !strings.Contains(body, "only an Empty group is reset") {
		t.Error("preview of a Stable group: want the refusal and no apply form")
	}
	status, loc = consolePost(t, base+"/groups/"+group+"/reset", url.Values{"csrf": {tok}, "topic": {topic}, "to": {"earliest"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "error=") {
		t.Errorf("apply to a Stable group: %d %s, want a redirect with an error", status, loc)
	}
	fetched, _ = adm.FetchOffsets(testCtx(t, 10*time.Second), group)
	if o, _ := fetched.Lookup(topic, 0); o.At != 7 {
		t.Errorf("partition 0 committed %d after a refused reset, want 7", o.At)
	}
}

// TestConsoleConfigErrors: a bad console.read.only or console.listener, or
// a broker without a listener the console can use, stops the start with
// the key to fix.
func TestConsoleConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"console.read.only": "yes"}, "console.read.only"},
		{map[string]string{"console.listener": "nonsense"}, "console.listener"},
		{map[string]string{"listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "OAUTHBEARER",
			"listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"},
			"console.listener needs"},
		{map[string]string{"console.listener": "https://127.0.0.1:0"}, "needs the console's keystore: set console.ssl.keystore.location"},
		{map[string]string{"console.listener": "https://127.0.0.1:0", "console.ssl.keystore.location": "/nonexistent/keystore.pem"}, "console.ssl.keystore.location"},
	} {
		props := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "console.listener": "http://127.0.0.1:0"}
		for k, v := range c.props {
			props[k] = v
		}
		cfg, err := config.Build(props)
		if err != nil {
			t.Fatalf("%v: config.Build: %v", c.props, err)
		}
		b := broker.New(cfg, nil)
		if err := b.Start(); err == nil || !strings.Contains(err.Error(), c.want) {
			if err == nil {
				b.Close()
			}
			t.Errorf("%v: start error %v, want one naming %s", c.props, err, c.want)
		}
	}
}
