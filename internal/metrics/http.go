package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics (Registry and state), /healthz (the process is
// up) and /readyz (ready reports nil once the broker serves clients, else
// why not).
func Handler(ready func() error, state State) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer(state), promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Server is a running metrics HTTP listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// ListenAddr turns the metrics.listener value (http://host:port, with or
// without a path, or host:port) into an address to listen on.
func ListenAddr(listener string) (string, error) {
	addr := strings.TrimPrefix(strings.TrimSpace(listener), "http://")
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr = addr[:i]
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("metrics.listener %q: want http://host:port", listener)
	}
	return addr, nil
}

// Serve listens on listener (see ListenAddr) and serves Handler.
func Serve(listener string, ready func() error, state State, logger *slog.Logger) (*Server, error) {
	addr, err := ListenAddr(listener)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listener: %w", err)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: Handler(ready, state), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener.
func (s *Server) Close() error { return s.srv.Close() }
