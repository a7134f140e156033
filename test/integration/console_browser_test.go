package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromiumPath finds a Chromium for the browser tests: skipped with a
// message where there is none, except in CI, where they must run (.ci/run
// installs Debian's chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium binary found and CI is set: the console's browser tests must run in CI (.ci/run installs chromium)")
	}
	t.Skip("no chromium binary found (apt-get install chromium); skipping the console's browser tests")
	return ""
}

// artifactsDir is where a test keeps its screenshots:
// $SLUICE_TEST_ARTIFACTS/<test> when set, else a t.TempDir.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SLUICE_TEST_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strings.NewReplacer("/", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is a headless Chromium tab for one test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, dir: artifactsDir(t)}
	t.Logf("screenshots in %s", b.dir)
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// submit runs steps that submit a form and waits for the next page.
func (b *browser) submit(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.submitStatus(200, steps...)
}

// submitStatus is submit expecting the next page's HTTP status.
func (b *browser) submitStatus(want int64, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatalf("browser submit: %v", err)
	}
	if resp.Status != want {
		b.t.Fatalf("browser submit: landed on %s with status %d, want %d", resp.URL, resp.Status, want)
	}
	// Every page a test visits is checked, not only those it names.
	b.checkA11y(strings.TrimPrefix(resp.URL, b.base))
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.submit(chromedp.Navigate(b.base + path))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// a11yScript lists what the rendered page gets wrong: form controls
// without a label, images without alt text, focusable elements that are
// not links, buttons or form controls (a click handler on a div is not
// reachable by keyboard).
const a11yScript = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (el.labels.length === 0 && !el.getAttribute('aria-label')) bad.push('unlabelled ' + el.outerHTML);
  }
  for (const el of document.querySelectorAll('img')) {
    if (!el.hasAttribute('alt')) bad.push('no alt ' + el.outerHTML);
  }
  for (const el of document.querySelectorAll('[onclick], [tabindex]')) {
    if (!['A','BUTTON','INPUT','SELECT','TEXTAREA','MAIN'].includes(el.tagName)) bad.push('not a real control ' + el.outerHTML);
  }
  if (!document.documentElement.lang) bad.push('no lang');
  return bad;
})()`

// checkA11y runs a11yScript and contrastScript (console_contrast_test.go)
// on the page shown. submitStatus calls it on every page a test lands on.
func (b *browser) checkA11y(page string) {
	b.t.Helper()
	for _, script := range []string{a11yScript, contrastScript} {
		bad, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](script))
		if err != nil {
			b.t.Fatal(err)
		}
		for _, p := range bad {
			b.t.Errorf("%s: %s", page, p)
		}
	}
}

// TestConsoleBrowser drives the console in headless Chromium: create a
// topic with the form, produce records with kgo, edit a topic config,
// browse by offset and by timestamp, and move through the overview with
// the keyboard alone. Each page is checked for accessibility and kept as
// a screenshot.
func TestConsoleBrowser(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	b := newBrowser(t, base)
	topic := topicName(t, "")

	b.open("/topics")
	b.submit(chromedp.SetValue(chromedp.ID("name"), topic), chromedp.SetValue(chromedp.ID("partitions"), "2"),
		chromedp.SetValue(chromedp.ID("replication_factor"), "1"), chromedp.Click(chromedp.CSS(`#create-form button`)))
	if loc := b.location(); !strings.HasSuffix(loc, "/topics/"+topic+"?ok=created+"+topic) {
		t.Fatalf("after create: at %s", loc)
	}
	if got := b.text(".flash.ok"); got != "created "+topic {
		t.Fatalf("after create: flash %q", got)
	}

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	produceBrowseRecords(t, tb.Addr(), topic, 20, t0)

	b.open("/topics/" + topic)
	if row := strings.Join(strings.Fields(b.text("table tbody tr")), " "); !strings.HasPrefix(row, "0 1 1 1 0 20 browse") {
		t.Errorf("partition 0 row %q: want leader 1, replicas 1, ISR 1, offsets 0..20", row)
	}
	b.submit(chromedp.SetValue(chromedp.ID("cfg-key"), "retention.ms"), chromedp.SetValue(chromedp.ID("cfg-value"), "86400000"),
		chromedp.Click(chromedp.CSS(`button[value="set"]`)))
	if got := b.text(".flash.ok"); got != "set retention.ms=86400000" {
		t.Fatalf("after config edit: flash %q", got)
	}
	if row := b.text("#config-table tr.set"); !strings.Contains(row, "retention.ms") || !strings.Contains(row, "86400000") || !strings.Contains(row, "DYNAMIC_TOPIC_CONFIG") {
		t.Errorf("edited config row %q", row)
	}
	rcs, err := newAdmin(t, tb.Addr()).DescribeTopicConfigs(testCtx(t, 10*time.Second), topic)
	if c, err2 := rcs.On(topic, nil); err != nil || err2 != nil || !hasConfig(c.Configs, "retention.ms", "86400000") {
		t.Errorf("retention.ms not changed on the broker: %v %v", err, err2)
	}
	b.screenshot("topic")

	b.open("/topics/" + topic + "/messages")
	b.submit(chromedp.SetValue(chromedp.ID("mode"), "offset"), chromedp.SetValue(chromedp.ID("offset"), "5"),
		chromedp.SetValue(chromedp.ID("limit"), "3"), chromedp.Click(chromedp.CSS(`form.browse button`)))
	if w := b.text("#window"); !strings.Contains(w, "offsets 5–8 of 0–20; 3 read, 3 shown") {
		t.Errorf("by offset: window %q", w)
	}
	if first := b.text("table.messages tbody tr"); !strings.Contains(first, "key-7") || !strings.Contains(first, `"word": "odd"`) {
		t.Errorf("by offset: first row %q, want key-7 (newest first) with pretty JSON", first)
	}
	b.screenshot("messages-offset")
	b.submit(chromedp.SetValue(chromedp.ID("mode"), "timestamp"), chromedp.SetValue(chromedp.ID("timestamp"), "2026-03-01T12:00:12"),
		chromedp.Click(chromedp.CSS(`form.browse button`)))
	if w := b.text("#window"); !strings.Contains(w, "offsets 12–15") {
		t.Errorf("by timestamp: window %q, want offsets 12–15", w)
	}
	if first := b.text("table.messages tbody tr"); !strings.Contains(first, "2026-03-01 12:00:14.000") {
		t.Errorf("by timestamp: first row %q, want the record of 12:00:14", first)
	}
	b.screenshot("messages-timestamp")

	// Keyboard only: the first Tab reaches the skip link, further Tabs
	// move through real links; Enter on "Topics" follows it.
	b.open("/")
	focused := func() string {
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement.tagName + ' ' + document.activeElement.textContent.trim()`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var path []string
	for range 4 {
		b.do(chromedp.KeyEvent("\t"))
		path = append(path, focused())
	}
	if strings.Join(path, " | ") != "A Skip to content | A Sluice | A Cluster | A Topics" {
		t.Errorf("tab order %q", path)
	}
	b.submit(chromedp.KeyEvent("\r"))
	if loc := b.location(); !strings.HasSuffix(loc, "/topics") {
		t.Errorf("Enter on the focused Topics link: at %s", loc)
	}
	b.screenshot("topics")
	b.open("/")
	b.screenshot("overview")
	b.open("/groups")
}

// TestConsoleBrowserLogin: in Chromium, a SASL broker's console sends the
// user to the login form, logs alice in, shows only what her ACLs allow
// and shows the broker's refusal of a topic she may not create.
func TestConsoleBrowserLogin(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"),
		withProp("console.listener", "http://127.0.0.1:0"))
	b := newBrowser(t, "http://"+tb.b.ConsoleAddr())
	adm := newAdmin(t, tb.Addr())
	mine := topicName(t, "alice")
	createTopic(t, adm, mine, 1, nil)
	createTopic(t, adm, topicName(t, "other"), 1, nil)
	res, err := adm.CreateACLs(testCtx(t, 15*time.Second), kadm.NewACLs().Allow("User:alice").Topics(mine).Operations(kadm.OpDescribe))
	if err != nil || res[0].Err != nil {
		t.Fatalf("acl: %v %v", err, res)
	}

	b.open("/topics")
	if loc := b.location(); !strings.Contains(loc, "/login?next=") {
		t.Fatalf("before login: at %s, want the login page", loc)
	}
	b.screenshot("login")
	b.submitStatus(401, chromedp.SetValue(chromedp.ID("username"), "alice"), chromedp.SetValue(chromedp.ID("password"), "alice-pw"),
		chromedp.SetValue(chromedp.ID("mechanism"), "SCRAM-SHA-256"), chromedp.Click(chromedp.CSS(`#login button`)))
	// SCRAM-SHA-256 has no credentials for alice (only PLAIN users exist):
	// the broker refuses, the form says so.
	if got := b.text(".flash.error"); !strings.Contains(got, "login failed") {
		t.Fatalf("SCRAM login without SCRAM credentials: %q", got)
	}
	b.submit(chromedp.SetValue(chromedp.ID("password"), "alice-pw"), chromedp.SetValue(chromedp.ID("mechanism"), "PLAIN"),
		chromedp.Click(chromedp.CSS(`#login button`)))
	if loc := b.location(); !strings.HasSuffix(loc, "/topics") {
		t.Fatalf("after login: at %s", loc)
	}
	if rows := b.text("table tbody"); !strings.Contains(rows, mine) || strings.Contains(rows, topicName(t, "other")) {
		t.Errorf("alice's topics: %q, want only %s", rows, mine)
	}
	b.submit(chromedp.SetValue(chromedp.ID("name"), topicName(t, "new")), chromedp.Click(chromedp.CSS(`#create-form button`)))
	if got := b.text(".flash.error"); !strings.Contains(got, "AUTHORIZATION_FAILED") {
		t.Errorf("alice creates a topic: flash %q, want the broker's authorization failure", got)
	}
	b.screenshot("refused")
	b.submit(chromedp.Click(chromedp.CSS(`form.logout button`)))
	if loc := b.location(); !strings.HasSuffix(loc, "/login") {
		t.Errorf("after logout: at %s", loc)
	}
}

// TestConsoleBrowserLagFalls: a group's page, refreshing itself, shows its
// lag fall to zero while a consumer runs, and draws the lag chart.
func TestConsoleBrowserLagFalls(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	b := newBrowser(t, base)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), topicName(t, "group")
	createTopic(t, adm, topic, 1, nil)
	produceBrowseRecords(t, tb.Addr(), topic, 20, time.Now())
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, 0, -1)
	if err := adm.CommitAllOffsets(testCtx(t, 15*time.Second), group, offs); err != nil {
		t.Fatal(err)
	}
	b.open("/groups/" + group)
	b.submit(chromedp.Click(chromedp.ID("refresh")))
	if got := b.text("#total-lag"); got != "20" {
		t.Fatalf("total lag before consuming: %q, want 20", got)
	}

	consumer := newClient(t, tb.Addr(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	for n := 0; n < 20; {
		fs := consumer.PollFetches(testCtx(t, 15*time.Second))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consume: %v", errs)
		}
		n += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(testCtx(t, 15*time.Second)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// The page reloads itself (meta refresh); nothing here reloads it.
	// The chart is the console's background sampler's (every 5 s), so it
	// may reach zero a sample after the page's total does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("total-lag")))
		var pts string
		if err == nil && got == "0" {
			pts, err = chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('figure.lag polyline')?.getAttribute('points') ?? ''`))
			if err == nil && len(strings.Fields(pts)) >= 2 && strings.HasSuffix(pts, ",39.0") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("total lag %q, lag chart points %q (%v) 30 s after the consumer committed: want 0 and a line ending at zero lag", got, pts, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.screenshot("group-lag")
}
