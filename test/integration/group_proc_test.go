package integration

// A consumer-group member in its own process (test/groupmember), for
// tests that crash a consumer with SIGKILL.

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// groupMemberBinary builds ./test/groupmember (once) and returns its path.
func groupMemberBinary(t *testing.T) string {
	return memberBin.path(t, "groupmember", "github.com/sluice-io/sluice/test/groupmember")
}

// procMember is a running test/groupmember process.
type procMember struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed once the process has exited

	mu    sync.Mutex
	lines []string
}

// startProcMember runs groupmember in group on topic with extra flags
// (-commit, -n, -crash-after); it is killed at test end.
func startProcMember(t *testing.T, addr, group, topic string, flags ...string) *procMember {
	t.Helper()
	args := append([]string{"-brokers", addr, "-group", group, "-topic", topic,
		"-session-timeout", groupSession.String()}, flags...)
	cmd := exec.Command(groupMemberBinary(t), args...)
	p := &procMember{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start groupmember: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("groupmember %v stdout:\n%s\nstderr:\n%s", flags, strings.Join(p.Lines(), "\n"), p.stderr.tail(4000))
		}
	})
	return p
}

// Lines returns what the process printed so far.
func (p *procMember) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *procMember) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitExit waits for the process to end by itself and fails unless a
// SIGKILL ended it.
func (p *procMember) waitExit(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("groupmember still running after %v", d)
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("groupmember ended with %v, want killed by SIGKILL", p.cmd.ProcessState)
	}
}

// memberView is what a groupmember's output says it did.
type memberView struct {
	owned     map[int32]bool             // partitions it owns now
	processed map[int32]map[int64]string // partition -> offset -> value
	committed map[int32]int64            // partition -> last committed offset
	count     int                        // records processed
}

// view parses the process's output so far.
func (p *procMember) view() memberView {
	v := memberView{owned: map[int32]bool{}, processed: map[int32]map[int64]string{}, committed: map[int32]int64{}}
	for _, line := range p.Lines() {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[0] {
		case "assigned", "revoked":
			for _, s := range strings.Split(f[2], ",") {
				part, _ := strconv.Atoi(s)
				v.owned[int32(part)] = f[0] == "assigned"
				if f[0] == "revoked" {
					delete(v.owned, int32(part))
				}
			}
		case "rec":
			part, _ := strconv.Atoi(f[1])
			off, _ := strconv.ParseInt(f[2], 10, 64)
			if v.processed[int32(part)] == nil {
				v.processed[int32(part)] = map[int64]string{}
			}
			v.processed[int32(part)][off] = strings.Join(f[3:], " ")
			v.count++
		case "committed":
			part, _ := strconv.Atoi(f[1])
			off, _ := strconv.ParseInt(f[2], 10, 64)
			v.committed[int32(part)] = off
		}
	}
	return v
}
