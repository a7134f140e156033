package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Broker is a Sluice process started for one suite: fresh data directory,
// its own process group, killed when the suite ends or the runner dies.
type Broker struct {
	Addr    string // host:port clients dial
	DataDir string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// freePort asks the kernel for an unused port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startBroker runs `sluice serve` listening on addr (host:port) with the
// given extra config overrides, logging to workDir/broker.log, and waits
// until it accepts connections.
func startBroker(bin, workDir, addr string, overrides ...string) (*Broker, error) {
	return startBrokerListeners(bin, workDir, "PLAINTEXT://"+addr, addr, overrides...)
}

// startBrokerListeners is startBroker with a whole listeners list; addr is
// the PLAINTEXT address clients and the readiness check use.
func startBrokerListeners(bin, workDir, listeners, addr string, overrides ...string) (*Broker, error) {
	dataDir, err := os.MkdirTemp(workDir, "data-")
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(workDir, "broker.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listeners", listeners, "--log-dirs", dataDir}
	for _, o := range overrides {
		args = append(args, "--override", o)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group; SIGKILL if the runner itself dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	b := &Broker{Addr: addr, DataDir: dataDir, LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(b.exited) }()
	registerCleanup(b.Stop)

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-b.exited:
			return nil, fmt.Errorf("broker exited at start; see %s", logPath)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		if time.Now().After(deadline) {
			b.Stop()
			return nil, fmt.Errorf("broker not accepting on %s after 30s; see %s", addr, logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alive reports whether the broker process is still running.
func (b *Broker) Alive() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// Stop terminates the broker's process group (SIGTERM, then SIGKILL after
// 10s) and removes its data directory. Safe to call more than once.
func (b *Broker) Stop() {
	if b == nil || b.cmd.Process == nil {
		return
	}
	pgid := b.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-b.exited
	}
	os.RemoveAll(b.DataDir)
}

// cleanups run at exit and on SIGINT/SIGTERM.
var cleanups []func()

func registerCleanup(f func()) { cleanups = append(cleanups, f) }

func runCleanups() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func withSignals(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
