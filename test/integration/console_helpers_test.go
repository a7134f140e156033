package integration

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// consoleBroker starts a broker with the web console on a free port and
// returns it with the console's base URL.
func consoleBroker(t *testing.T, opts ...brokerOpt) (*testBroker, string) {
	t.Helper()
	tb := startBroker(t, append([]brokerOpt{withProp("console.listener", "http://127.0.0.1:0")}, opts...)...)
	addr := tb.b.ConsoleAddr()
	if addr == "" {
		t.Fatal("console.listener set but the broker serves no console")
	}
	return tb, "http://" + addr
}

// consoleGet fetches url, checks the status and returns the body.
func consoleGet(t *testing.T, url string, want int) string {
	t.Helper()
	cl := &http.Client{Timeout: 20 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d; body:\n%s", url, resp.StatusCode, want, b)
	}
	return string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// consoleCSRF is the form token of the page at url.
func consoleCSRF(t *testing.T, url string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(consoleGet(t, url, http.StatusOK))
	if m == nil {
		t.Fatalf("no form token on %s", url)
	}
	return m[1]
}

// consolePost posts a form without following the redirect; it returns the
// status and the Location (or body on an error status).
func consolePost(t *testing.T, target string, form url.Values) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := cl.PostForm(target, form)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

// checkAccessible is a static accessibility check of a page: the document
// has a language and a title, every form control has a label (a <label
// for>, or aria-label), every image has alt text, every <svg role=img> a
// name, and links and buttons are real elements with text.
func checkAccessible(t *testing.T, page, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: parse: %v", page, err)
	}
	labels := map[string]bool{}
	var controls []*html.Node
	hasLang, hasTitle := false, false
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "html":
				hasLang = attr(n, "lang") != ""
			case "title":
				hasTitle = n.FirstChild != nil
			case "label":
				labels[attr(n, "for")] = true
			case "input", "select", "textarea":
				if attr(n, "type") != "hidden" {
					controls = append(controls, n)
				}
			case "img":
				if _, ok := attrOK(n, "alt"); !ok {
					t.Errorf("%s: <img src=%q> has no alt", page, attr(n, "src"))
				}
			case "svg":
				if attr(n, "role") == "img" && attr(n, "aria-label") == "" {
					t.Errorf("%s: <svg role=img> has no aria-label", page)
				}
			case "a":
				if attr(n, "href") == "" {
					t.Errorf("%s: <a> without href is not keyboard reachable", page)
				}
				if strings.TrimSpace(textOf(n)) == "" {
					t.Errorf("%s: link %q has no text", page, attr(n, "href"))
				}
			case "button":
				if strings.TrimSpace(textOf(n)) == "" && attr(n, "aria-label") == "" {
					t.Errorf("%s: button without a name", page)
				}
			}
			if attr(n, "onclick") != "" && n.Data != "a" && n.Data != "button" {
				t.Errorf("%s: <%s onclick> is not keyboard reachable; use a link or a button", page, n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !hasLang || !hasTitle {
		t.Errorf("%s: want <html lang> and a <title>", page)
	}
	for _, c := range controls {
		id := attr(c, "id")
		if (id == "" || !labels[id]) && attr(c, "aria-label") == "" {
			t.Errorf("%s: <%s name=%q> has no label", page, c.Data, attr(c, "name"))
		}
	}
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}
