package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConsoleBrowserAdmin: in Chromium, alice (granted the cluster's
// Alter and Describe) creates an ACL and a SCRAM user with the forms;
// the new user then logs in with SCRAM and sees the topic the ACL gives
// her. Every admin page is checked for accessibility and kept as a
// screenshot.
func TestConsoleBrowserAdmin(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"),
		withProp("console.listener", "http://127.0.0.1:0"))
	b := newBrowser(t, "http://"+tb.b.ConsoleAddr())
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	res, err := adm.CreateACLs(testCtx(t, 15*time.Second), kadm.NewACLs().Allow("User:alice").Clusters().
		Operations(kadm.OpAlter, kadm.OpDescribe, kadm.OpAlterConfigs, kadm.OpDescribeConfigs))
	if err != nil || res[0].Err != nil {
		t.Fatalf("acl: %v %v", err, res)
	}
	login := func(user, pass, mech string) {
		t.Helper()
		b.open("/login")
		b.submit(chromedp.SetValue(chromedp.ID("username"), user), chromedp.SetValue(chromedp.ID("password"), pass),
			chromedp.SetValue(chromedp.ID("mechanism"), mech), chromedp.Click(chromedp.CSS(`#login button`)))
	}
	login("alice", "alice-pw", "PLAIN")

	b.open("/acls")
	b.submit(chromedp.SetValue(chromedp.ID("principal"), "User:carol"), chromedp.SetValue(chromedp.ID("permission"), "ALLOW"),
		chromedp.SetValue(chromedp.ID("operation"), "READ"), chromedp.SetValue(chromedp.ID("resource_type"), "TOPIC"),
		chromedp.SetValue(chromedp.ID("resource_name"), topic), chromedp.Click(chromedp.CSS(`#acl-create button`)))
	if got := b.text(".flash.ok"); !strings.HasPrefix(got, "created ALLOW User:carol READ on LITERAL TOPIC:"+topic) {
		t.Fatalf("after creating an ACL: flash %q", got)
	}
	if rows := b.text("#acl-table tbody"); !strings.Contains(rows, "User:carol") {
		t.Errorf("ACL table %q lacks carol's ACL", rows)
	}
	b.screenshot("acls")
	b.open("/acls?principal=User:carol")
	b.submit(chromedp.Click(chromedp.CSS(`#acl-table a[href^="/acls/delete"]`)))
	if got := b.text("#acl-binding"); !strings.Contains(got, "User:carol") || !strings.Contains(got, "READ") {
		t.Errorf("confirmation page shows %q", got)
	}
	b.screenshot("acl-delete-confirm")

	b.open("/users")
	b.submit(chromedp.SetValue(chromedp.ID("user"), "carol"), chromedp.SetValue(chromedp.ID("password"), "carol-pw"),
		chromedp.SetValue(chromedp.ID("mechanism"), "SCRAM-SHA-256"), chromedp.Click(chromedp.CSS(`#user-upsert button`)))
	if got := b.text(".flash.ok"); got != "set SCRAM-SHA-256 credentials of carol (4096 iterations)" {
		t.Fatalf("after creating a user: flash %q", got)
	}
	if rows := strings.Join(strings.Fields(b.text("#user-table tbody")), " "); !strings.Contains(rows, "carol SCRAM-SHA-256 4096") || strings.Contains(rows, "carol-pw") {
		t.Errorf("user table %q: want carol's SCRAM-SHA-256 with 4096 iterations and no password", rows)
	}
	b.screenshot("users")

	for _, p := range []string{"/quotas", "/transactions"} {
		b.open(p)
		b.screenshot(strings.TrimPrefix(p, "/"))
	}

	b.submit(chromedp.Click(chromedp.CSS(`form.logout button`)))
	login("carol", "carol-pw", "SCRAM-SHA-256")
	b.open("/topics")
	if rows := b.text("table tbody"); !strings.Contains(rows, topic) {
		t.Errorf("carol's topics %q: want %s, which her new ACL lets her read", rows, topic)
	}
	b.screenshot("carol-topics")
}
