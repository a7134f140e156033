package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// consoleTLSPages checks the console's pages through u, which is logged
// in when the listener needs it: the overview, a topic created through
// the form and its page, the groups page. Each is built from the broker's
// answers over the TLS listener, the only one there is.
func consoleTLSPages(t *testing.T, u *consoleUser) {
	t.Helper()
	for _, p := range []string{"/", "/topics", "/groups"} {
		if status, _, body := u.do(http.MethodGet, p, nil); status != http.StatusOK {
			t.Fatalf("GET %s: status %d\n%s", p, status, body)
		}
	}
	_, _, body := u.do(http.MethodGet, "/topics", nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no form token on the topics page")
	}
	topic := topicName(t, "over-tls")
	status, loc, _ := u.do(http.MethodPost, "/topics", url.Values{"csrf": {m[1]}, "name": {topic}, "partitions": {"2"}, "replication_factor": {"1"}})
	if status != http.StatusSeeOther || strings.Contains(loc, "error=") {
		t.Fatalf("create a topic: %d %s", status, loc)
	}
	status, _, body = u.do(http.MethodGet, "/topics/"+topic, nil)
	if status != http.StatusOK || !strings.Contains(body, topic) || !strings.Contains(body, "cleanup.policy") {
		t.Fatalf("the new topic's page: status %d", status)
	}
}

// TestConsoleSSLOnly: on a broker whose only listener is SSL with
// ssl.client.auth=required, the console connects over TLS with the
// listener's keystore as its client certificate.
func TestConsoleSSLOnly(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listeners", "SSL://127.0.0.1:0"),
		withProp("inter.broker.listener.name", "SSL"),
		withProp("listener.name.ssl.ssl.client.auth", "required"),
		withProp("console.listener", "http://127.0.0.1:0"))
	base := "http://" + tb.b.ConsoleAddr()
	consoleTLSPages(t, newConsoleUser(t, base)) // no login: SSL without SASL
}

// TestConsoleSASLSSLOnly: on a broker whose only listener is SASL_SSL the
// console asks for a login and connects as the user over TLS.
func TestConsoleSASLSSLOnly(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listeners", "SASL_SSL://127.0.0.1:0"),
		withProp("inter.broker.listener.name", "SASL_SSL"),
		withProp("console.listener", "http://127.0.0.1:0"))
	base := "http://" + tb.b.ConsoleAddr()
	u := newConsoleUser(t, base)
	if status, loc, _ := u.do(http.MethodGet, "/topics", nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Fatalf("before login: %d %s, want a redirect to the login page", status, loc)
	}
	if status, _, _ := u.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"wrong"}, "mechanism": {"PLAIN"}}); status != http.StatusUnauthorized {
		t.Fatalf("a wrong password over SASL_SSL: %d, want 401", status)
	}
	if status, loc, _ := u.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "mechanism": {"PLAIN"}, "next": {"/"}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login over SASL_SSL: %d %s", status, loc)
	}
	consoleTLSPages(t, u)
}

// TestConsoleHTTPS: with console.listener=https://... the console serves
// TLS with console.ssl.* (the same keystore reader as the Kafka
// listeners): a client trusting the CA gets the pages, one that does not
// is refused the handshake, and the session cookie is Secure.
func TestConsoleHTTPS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "console-ca")
	tb := startSASLBroker(t, withProp("console.listener", "https://127.0.0.1:0"),
		withProp("console.ssl.keystore.type", "PEM"),
		withProp("console.ssl.keystore.location", ca.keystoreFile(t)))
	base := "https://" + tb.b.ConsoleAddr()

	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/login"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client not trusting the CA: %v, want a certificate error", err)
	}
	u := newConsoleUser(t, base)
	u.cl.Transport = &http.Transport{TLSClientConfig: ca.clientTLS(t, nil)}
	status, _, body := u.do(http.MethodGet, "/login", nil)
	if status != http.StatusOK || !strings.Contains(body, `type="password"`) {
		t.Fatalf("login page over https: %d", status)
	}
	resp, err := u.cl.PostForm(base+"/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "mechanism": {"PLAIN"}, "next": {"/topics"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/topics" {
		t.Fatalf("login over https: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sluice_console" {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly {
		t.Fatalf("session cookie %v: want it Secure and HttpOnly", session)
	}
	if status, _, body := u.do(http.MethodGet, "/topics", nil); status != http.StatusOK || !strings.Contains(body, "alice") {
		t.Errorf("topics page after login over https: %d", status)
	}
}
