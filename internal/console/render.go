package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// page is what every template gets: the layout's fields and the page's.
type page struct {
	Title    string
	Nav      string // which navigation link is current
	ReadOnly bool
	CSRF     string
	User     string // the logged-in user, "" without login
	Refresh  int    // seconds before the page reloads itself, 0: never
	OK       string // a message after a successful change
	Error    string
	Data     any
}

var funcs = template.FuncMap{
	"bytes": humanBytes,
	"join": func(xs []int32) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(int(x))
		}
		return strings.Join(s, ", ")
	},
	"pathesc": url.PathEscape,
	"charts":  func(cs ...chart) []chart { return cs },
	"persec":  perSecond,
	"bytesps": func(x float64) string { return humanBytes(int64(x)) + "/s" },
}

// parsePages parses each assets/*.page.html with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(assets, "assets/*.page.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(n, "assets/"), ".page.html")] = t
	}
	return out, nil
}

// render writes page name with status 200, or a 500 if it fails to
// render (nothing is written before the whole page is).
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	s.renderStatus(w, r, http.StatusOK, name, p)
}

func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.ReadOnly = s.cfg.ReadOnly
	if sess := sessionOf(r.Context()); sess != nil {
		p.CSRF, p.User = sess.csrf, sess.user
	}
	if p.OK == "" {
		p.OK = r.URL.Query().Get("ok")
	}
	if p.Error == "" {
		p.Error = r.URL.Query().Get("error")
	}
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, p); err != nil {
		s.cfg.Logger.Error("console render", "page", name, "err", err)
		http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders the error page with status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, title string, err error) {
	s.renderStatus(w, r, status, "error", page{Title: title, Error: err.Error()})
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// pager is one page of a list: items [From, To) of Total.
type pager struct {
	Page, Pages, From, To, Total int
	Prev, Next                   string // links, "" at the ends
}

// paginate bounds a list of total items to the page asked in r's "page"
// parameter (1-based), keeping the other query parameters in the links.
func paginate(r *http.Request, total, size int) pager {
	pages := max((total+size-1)/size, 1)
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	n = min(max(n, 1), pages)
	p := pager{Page: n, Pages: pages, From: (n - 1) * size, To: min(n*size, total), Total: total}
	link := func(to int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(to))
		return r.URL.Path + "?" + q.Encode()
	}
	if n > 1 {
		p.Prev = link(n - 1)
	}
	if n < pages {
		p.Next = link(n + 1)
	}
	return p
}
