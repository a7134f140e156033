// Package console is the broker's built-in web console (docs/CONSOLE.md):
// server-rendered pages from html/template and embedded assets, no Node
// build.
//
// The console is a Kafka client of its own broker: every page is built
// from Kafka API answers (kadm/kmsg through franz-go on a local listener),
// so it runs the same handlers, authorization and forwarding as any other
// client, in a single node and in a cluster alike, and holds no copy of
// the broker's logic (docs/ARCHITECTURE.md "The web console").
//
// Every page is bounded: lists are paged (at most PageSize rows), offsets
// are asked only for the partitions on the page, and the message browser
// reads one window of at most maxWindow records.
package console

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var assets embed.FS

// Config is what the broker hands the console.
type Config struct {
	// Listener is console.listener: http://host:port (or host:port), or
	// https://host:port with TLS set.
	Listener string
	// TLS, when set, serves the console over TLS (an https listener); the
	// session cookie is then Secure.
	TLS *tls.Config
	// Bootstrap is host:port of a Kafka listener of this broker:
	// PLAINTEXT or SSL, or SASL_PLAINTEXT or SASL_SSL when SASLMechanisms
	// is set (for SSL, Dial completes the TLS handshake).
	Bootstrap string
	// SASLMechanisms, when set, are the mechanisms of Bootstrap's SASL
	// listener: the console asks users to log in and connects as them.
	SASLMechanisms []string
	// ReadOnly is console.read.only: no form that changes the cluster.
	ReadOnly bool
	// Dial, when set, opens the console client's Kafka connections: the
	// test cluster's network seam, and TLS on an SSL listener.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Throughput returns this process's cumulative record bytes in
	// (produced) and out (fetched), sampled for the overview's charts.
	Throughput func() (in, out float64)
	// SampleEvery is the throughput sampling period (default 5 s).
	SampleEvery time.Duration
	// PageSize bounds every list (default 50).
	PageSize int
	Logger   *slog.Logger
}

// Server is a running console.
type Server struct {
	cfg   Config
	ln    net.Listener
	srv   *http.Server
	pages map[string]*template.Template
	rates *rates
	lags  *lagHistory
	// topicRates: the topics' and the cluster's records/s (topicrates.go).
	topicRates *rateHistory

	anon     *session  // without login: the one session everybody shares
	sessions *sessions // with login (session.go)

	stop chan struct{}
	wg   sync.WaitGroup
}

// ListenAddr turns a console.listener value into an address to listen on.
func ListenAddr(listener string) (string, error) {
	addr := strings.TrimSpace(listener)
	for _, scheme := range []string{"http://", "https://"} {
		if len(addr) >= len(scheme) && strings.EqualFold(addr[:len(scheme)], scheme) {
			addr = addr[len(scheme):]
			break
		}
	}
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr = addr[:i]
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("console.listener %q: want http://host:port or https://host:port", listener)
	}
	return addr, nil
}

// Start listens and serves the console until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 5 * time.Second
	}
	addr, err := ListenAddr(cfg.Listener)
	if err != nil {
		return nil, err
	}
	if https := strings.HasPrefix(strings.ToLower(strings.TrimSpace(cfg.Listener)), "https://"); https != (cfg.TLS != nil) {
		return nil, fmt.Errorf("console.listener %q: an https listener needs the console's keystore (console.ssl.keystore.location), and only an https one uses it", cfg.Listener)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, pages: pages, rates: newRates(60), lags: newLagHistory(), topicRates: newRateHistory(), stop: make(chan struct{}), sessions: newSessions()}
	if len(cfg.SASLMechanisms) == 0 {
		if s.anon, err = s.newSession("", nil); err != nil {
			return nil, err
		}
	}
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		if s.anon != nil {
			s.anon.close()
		}
		return nil, fmt.Errorf("console.listener: %w", err)
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if cfg.TLS != nil {
		s.ln = tls.NewListener(s.ln, cfg.TLS)
	}
	ln := s.ln
	s.wg.Add(4)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("console listener", "err", err)
		}
	}()
	go func() { defer s.wg.Done(); s.sample() }()
	every := lagSampleEvery
	go func() { defer s.wg.Done(); s.sampleLags(every) }()
	rateEvery := rateSampleEvery
	go func() { defer s.wg.Done(); s.sampleRates(rateEvery) }()
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the console's base URL: http:// or https://, and Addr.
func (s *Server) URL() string { return s.scheme() + "://" + s.Addr() }

func (s *Server) scheme() string {
	if s.cfg.TLS != nil {
		return "https"
	}
	return "http"
}

// Close stops serving and closes the console's Kafka client.
func (s *Server) Close() error {
	close(s.stop)
	err := s.srv.Close()
	s.wg.Wait()
	if s.anon != nil {
		s.anon.close()
	}
	s.sessions.closeAll()
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /topics", s.topics)
	mux.HandleFunc("POST /topics", s.createTopic)
	mux.HandleFunc("GET /topics/{topic}", s.topic)
	mux.HandleFunc("POST /topics/{topic}/configs", s.alterConfig)
	mux.HandleFunc("POST /topics/{topic}/partitions", s.addPartitions)
	mux.HandleFunc("POST /topics/{topic}/delete", s.deleteTopic)
	mux.HandleFunc("GET /topics/{topic}/messages", s.messages)
	mux.HandleFunc("GET /topics/{topic}/messages.jsonl", s.messagesJSONL)
	mux.HandleFunc("GET /groups", s.groups)
	mux.HandleFunc("GET /groups/{group}", s.group)
	mux.HandleFunc("GET /groups/{group}/lag.json", s.lagSamples)
	mux.HandleFunc("GET /groups/{group}/reset", s.resetPreview)
	mux.HandleFunc("POST /groups/{group}/reset", s.resetApply)
	s.adminRoutes(mux) // admin.go: transactions, producers, ACLs, SCRAM users, quotas
	return securityHeaders(s.withSession(mux))
}

// securityHeaders keeps the pages from being framed or sniffed, and
// allows only the console's own scripts and styles.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// ctx bounds the Kafka requests of one page.
func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}

// checkForm guards every change: refused in read-only mode, and only from
// a form this console rendered (its CSRF token; a cross-site page cannot
// read it). It writes the error and returns false when refused.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.ReadOnly {
		http.Error(w, "the console is read-only (console.read.only=true)", http.StatusForbidden)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return false
	}
	sess := sessionOf(r.Context())
	if sess == nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(sess.csrf)) != 1 {
		http.Error(w, "missing or stale form token: reload the page", http.StatusForbidden)
		return false
	}
	return true
}

// redirect answers a form with 303 to path, carrying a message to show.
func redirect(w http.ResponseWriter, r *http.Request, path, msg string, failed bool) {
	q := url.Values{}
	if failed {
		q.Set("error", msg)
	} else if msg != "" {
		q.Set("ok", msg)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}
