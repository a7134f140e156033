package integration

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// consoleUser is a browser-like HTTP client of the console with its own
// cookie jar.
type consoleUser struct {
	t    *testing.T
	base string
	cl   *http.Client
}

func newConsoleUser(t *testing.T, base string) *consoleUser {
	jar, _ := cookiejar.New(nil)
	return &consoleUser{t: t, base: base, cl: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns status, Location and body.
func (u *consoleUser) do(method, path string, form url.Values) (int, string, string) {
	u.t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = u.cl.Get(u.base + path)
	} else {
		resp, err = u.cl.PostForm(u.base+path, form)
	}
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// TestConsoleLogin: with a SASL listener the console asks for a login,
// checks it with a SASL login to the broker, and then acts as that user:
// the ACLs decide what is shown and refuse what is not allowed.
func TestConsoleLogin(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"),
		withProp("console.listener", "http://127.0.0.1:0"))
	base := "http://" + tb.b.ConsoleAddr()
	adm := newAdmin(t, tb.Addr()) // PLAINTEXT: User:ANONYMOUS, a super user here
	mine, other := topicName(t, "alice"), topicName(t, "other")
	createTopic(t, adm, mine, 1, nil)
	createTopic(t, adm, other, 1, nil)
	res, err := adm.CreateACLs(testCtx(t, 15*time.Second), kadm.NewACLs().Allow("User:alice").Topics(mine).Operations(kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpRead))
	if err != nil || res[0].Err != nil {
		t.Fatalf("acl: %v %v", err, res)
	}

	u := newConsoleUser(t, base)
	if status, loc, _ := u.do(http.MethodGet, "/topics", nil); status != http.StatusSeeOther || loc != "/login?next=%2Ftopics" {
		t.Fatalf("before login: %d %s, want a redirect to the login page", status, loc)
	}
	if status, _, _ := u.do(http.MethodPost, "/topics", url.Values{"name": {"x"}}); status != http.StatusUnauthorized {
		t.Errorf("a change before login: status %d, want 401", status)
	}
	status, _, body := u.do(http.MethodGet, "/login", nil)
	if status != http.StatusOK || !strings.Contains(body, `type="password"`) {
		t.Fatalf("login page: %d", status)
	}
	checkAccessible(t, "login", body)
	if status, _, body := u.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"wrong"}, "mechanism": {"PLAIN"}, "next": {"/topics"}}); status != http.StatusUnauthorized || !strings.Contains(body, "login failed") {
		t.Fatalf("a wrong password: %d, want 401 and the failure", status)
	}

	status, loc, _ := u.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "mechanism": {"PLAIN"}, "next": {"/topics"}})
	if status != http.StatusSeeOther || loc != "/topics" {
		t.Fatalf("login: %d %s", status, loc)
	}
	cookies := u.cl.Jar.Cookies(mustURL(t, base))
	if len(cookies) != 1 {
		t.Fatalf("cookies after login: %v", cookies)
	}
	_, _, body = u.do(http.MethodGet, "/topics", nil)
	if !strings.Contains(body, ">"+mine+"<") || strings.Contains(body, ">"+other+"<") || !strings.Contains(body, "alice") {
		t.Errorf("alice's topics page: want %s only, and her name", mine)
	}
	// The cookie's attributes, as the browser got them.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).PostForm(base+"/login",
		url.Values{"username": {"alice"}, "password": {"alice-pw"}, "mechanism": {"PLAIN"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Errorf("session cookie %q: want HttpOnly and SameSite=Strict", sc)
	}

	// Refused by an ACL: alice may not create topics.
	_, _, body = u.do(http.MethodGet, "/topics", nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no form token on alice's topics page")
	}
	status, loc, _ = u.do(http.MethodPost, "/topics", url.Values{"csrf": {m[1]}, "name": {topicName(t, "new")}, "partitions": {"1"}, "replication_factor": {"1"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "error=") || !strings.Contains(loc, "AUTHORIZATION_FAILED") {
		t.Errorf("alice creates a topic: %d %s, want the broker's authorization failure", status, loc)
	}
	if td, _ := adm.ListTopics(testCtx(t, 10*time.Second), topicName(t, "new")); td.Has(topicName(t, "new")) {
		t.Error("the refused topic exists")
	}
	// A form token that is not her session's is refused.
	if status, _, _ := u.do(http.MethodPost, "/topics/"+mine+"/delete", url.Values{"csrf": {"0000"}, "confirm": {mine}}); status != http.StatusForbidden {
		t.Errorf("a wrong form token: status %d, want 403", status)
	}
	// Her messages page reads as her.
	if status, _, _ := u.do(http.MethodGet, "/topics/"+mine+"/messages", nil); status != http.StatusOK {
		t.Errorf("alice browses her topic: status %d", status)
	}
	if status, _, _ := u.do(http.MethodGet, "/topics/"+other, nil); status != http.StatusForbidden {
		t.Errorf("alice opens a topic she may not describe: status %d, want 403", status)
	}

	status, loc, _ = u.do(http.MethodPost, "/logout", url.Values{"csrf": {m[1]}})
	if status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout: %d %s", status, loc)
	}
	if status, _, _ := u.do(http.MethodGet, "/topics", nil); status != http.StatusSeeOther {
		t.Errorf("after logout: status %d, want a redirect to the login page", status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
