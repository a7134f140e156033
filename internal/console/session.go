package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// A session is one user's Kafka client: with login, every request of a
// user goes to the broker authenticated as that user, so the broker's
// authorizer decides what the console shows and may change. Without
// login there is one anonymous session.

const (
	cookieName  = "sluice_console"
	maxSessions = 64               // the least recently used goes first
	sessionIdle = 30 * time.Minute // an idle session is logged out
)

type session struct {
	id, csrf, user string
	mech           sasl.Mechanism // nil without login
	kcl            *kgo.Client
	adm            *kadm.Client
	last           time.Time // guarded by sessions.mu
	bootstrap      string
	dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	closed         atomic.Bool // the session ended: nothing is sampled through it any more
}

// close ends the session: its client closes and the lag sampler drops
// its series (lagchart.go).
func (se *session) close() {
	se.closed.Store(true)
	se.kcl.Close()
}

func (se *session) ended() bool { return se.closed.Load() }

func token() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// connOpts are the options of every client made for this session: the
// long-lived one and the message browser's short-lived readers.
func (se *session) connOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(se.bootstrap), kgo.ClientID("sluice-console"),
		kgo.RequestTimeoutOverhead(5 * time.Second), kgo.RequestRetries(2)}
	if se.dial != nil {
		opts = append(opts, kgo.Dialer(se.dial))
	}
	if se.mech != nil {
		opts = append(opts, kgo.SASL(se.mech))
	}
	return opts
}

func (s *Server) newSession(user string, mech sasl.Mechanism) (*session, error) {
	se := &session{id: token(), csrf: token(), user: user, mech: mech, last: time.Now(),
		bootstrap: s.cfg.Bootstrap, dial: s.cfg.Dial}
	kcl, err := kgo.NewClient(se.connOpts()...)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	se.kcl, se.adm = kcl, kadm.NewClient(kcl)
	return se, nil
}

type sessionKey struct{}

// sessionOf is the request's session (nil on the login page).
func sessionOf(ctx context.Context) *session {
	se, _ := ctx.Value(sessionKey{}).(*session)
	return se
}

// withSession puts the request's session in its context; with login, a
// request without one is sent to the login page (GET) or refused.
func (s *Server) withSession(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se := s.anon
		if se == nil {
			if c, err := r.Cookie(cookieName); err == nil {
				se = s.sessions.get(c.Value)
			}
		}
		public := r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/static/")
		if se == nil && !public {
			if r.Method != http.MethodGet {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if se != nil {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, se))
		}
		h.ServeHTTP(w, r)
	})
}

type loginData struct {
	Mechanisms []string
	User, Next string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.anon != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, "login", page{Title: "Log in", Data: loginData{Mechanisms: s.cfg.SASLMechanisms, Next: safeNext(r.URL.Query().Get("next"))}})
}

// safeNext keeps a redirect after login on this console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

// login checks the user's name and password with a SASL login of their
// own to the broker and, when it succeeds, starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.anon != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// A login form posted from another site is refused (login CSRF).
	if o := r.Header.Get("Origin"); o != "" && o != s.scheme()+"://"+r.Host {
		http.Error(w, "cross-origin login refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	user, pass, mechName := r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("mechanism")
	data := loginData{Mechanisms: s.cfg.SASLMechanisms, User: user, Next: safeNext(r.PostForm.Get("next"))}
	fail := func(msg string) {
		s.renderStatus(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Error: msg, Data: data})
	}
	if mechName == "" {
		mechName = s.cfg.SASLMechanisms[0]
	}
	if !slices.Contains(s.cfg.SASLMechanisms, mechName) {
		fail("mechanism " + mechName + " is not enabled on the listener")
		return
	}
	var mech sasl.Mechanism
	switch mechName {
	case "PLAIN":
		mech = plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		mech = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		mech = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	default:
		fail("the console cannot log in with " + mechName)
		return
	}
	se, err := s.newSession(user, mech)
	if err != nil {
		fail(err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	// Any request authenticates the connection first; ApiVersions needs
	// no ACL, so only the credentials decide.
	if _, err := se.adm.ApiVersions(ctx); err != nil {
		se.close()
		fail("login failed: " + err.Error())
		return
	}
	s.sessions.add(se)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: se.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionIdle.Seconds()), Secure: s.cfg.TLS != nil})
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if s.anon != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// checkForm refuses in read-only mode; logging out is not a change.
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	se := sessionOf(r.Context())
	if r.ParseForm() != nil || se == nil || r.PostForm.Get("csrf") != se.csrf {
		http.Error(w, "missing or stale form token", http.StatusForbidden)
		return
	}
	s.sessions.remove(se.id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1,
		Secure: s.cfg.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// sessions are the logged-in users' sessions, bounded in number and idle
// time; each holds a Kafka client, closed when the session ends.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se := ss.m[id]
	if se == nil {
		return nil
	}
	if time.Since(se.last) > sessionIdle {
		delete(ss.m, id)
		go se.close()
		return nil
	}
	se.last = time.Now()
	return se
}

func (ss *sessions) add(se *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for len(ss.m) >= maxSessions {
		var oldest *session
		for _, o := range ss.m {
			if oldest == nil || o.last.Before(oldest.last) {
				oldest = o
			}
		}
		delete(ss.m, oldest.id)
		go oldest.close()
	}
	ss.m[se.id] = se
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	se := ss.m[id]
	delete(ss.m, id)
	ss.mu.Unlock()
	if se != nil {
		se.close()
	}
}

func (ss *sessions) closeAll() {
	ss.mu.Lock()
	all := ss.m
	ss.m = map[string]*session{}
	ss.mu.Unlock()
	for _, se := range all {
		se.close()
	}
}
