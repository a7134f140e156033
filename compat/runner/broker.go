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

// startBrokerListeners runs `sluice serve` with listeners (a whole
// listeners list) and the given extra config overrides, logging to
// workDir/broker.log, and waits until it accepts connections on addr, the
// PLAINTEXT address clients and the readiness check use.
func startBrokerListeners(bin, workDir, listeners, addr string, overrides ...string) (*Broker, error) {
	dataDir, err := os.MkdirTemp(workDir, "data-")
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listeners", listeners, "--log-dirs", dataDir}
	for _, o := range overrides {
		args = append(args, "--override", o)
	}
	b, err := spawn(bin, args, addr, dataDir, filepath.Join(workDir, "broker.log"))
	if err != nil {
		return nil, err
	}
	if err := b.waitAccepting(30 * time.Second); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// spawn starts `sluice <args>` in its own process group, logging to
// logPath; the process is killed when the runner exits.
func spawn(bin string, args []string, addr, dataDir, logPath string) (*Broker, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
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
	return b, nil
}

// waitAccepting waits until the broker accepts connections on its Addr.
func (b *Broker) waitAccepting(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-b.exited:
			return fmt.Errorf("broker exited at start; see %s", b.LogPath)
		default:
		}
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broker not accepting on %s after %s; see %s", b.Addr, d, b.LogPath)
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
