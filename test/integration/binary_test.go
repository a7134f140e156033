package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries the tests build, each at most once per run.
var binDir string

// builtBinary is one program built on first use.
type builtBinary struct {
	once sync.Once
	err  error
}

var (
	sluiceBin = &builtBinary{}
	memberBin = &builtBinary{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-it-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sluiceBinary builds ./cmd/sluice (once) and returns its path.
func sluiceBinary(t testing.TB) string {
	return sluiceBin.path(t, "sluice", "github.com/sluice-io/sluice/cmd/sluice")
}

// path builds pkg into binDir/name on first use and returns its path.
func (b *builtBinary) path(t testing.TB, name, pkg string) string {
	t.Helper()
	bin := filepath.Join(binDir, name)
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out, err := exec.Command(goTool, "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return bin
}

// procBroker is the sluice binary running as a subprocess.
type procBroker struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuffer
	done chan struct{} // closed once the process has exited
}

var listenerRE = regexp.MustCompile(`msg="?sluice started"?.*\blistener=(\S+)`)

// startProc runs `sluice serve` on a free port with data in dir and waits
// for its "sluice started" log line.
func startProc(t *testing.T, dir string, overrides ...string) *procBroker {
	t.Helper()
	args := []string{"serve", "--listeners", "PLAINTEXT://127.0.0.1:0", "--log-dirs", dir}
	for _, o := range overrides {
		args = append(args, "--override", o)
	}
	cmd := exec.Command(sluiceBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice: %v", err)
	}
	p := &procBroker{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if m := listenerRE.FindStringSubmatch(line); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("sluice process log (tail):\n%s", p.logs.tail(8000))
		}
	})
	select {
	case p.addr = <-addrCh:
	case <-p.done:
		t.Fatalf("sluice exited before starting: %v\n%s", cmd.ProcessState, p.logs.tail(4000))
	case <-time.After(30 * time.Second):
		t.Fatalf("no \"sluice started\" line within 30s:\n%s", p.logs.tail(4000))
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *procBroker) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}
