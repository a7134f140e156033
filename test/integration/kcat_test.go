package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKcatSmoke runs test/kcat/smoke.sh (kcat, i.e. librdkafka) against
// an in-process broker. It is skipped only when kcat is not installed.
func TestKcatSmoke(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed")
	}
	script, err := filepath.Abs(filepath.Join("..", "kcat", "smoke.sh"))
	if err != nil {
		t.Fatal(err)
	}
	tb := startBroker(t, withProp("auto.create.topics.enable", "true"))

	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "BROKER="+tb.Addr())
	out, err := cmd.CombinedOutput()
	t.Logf("smoke.sh output:\n%s", out)
	if err != nil {
		t.Fatalf("smoke.sh against %s: %v", tb.Addr(), err)
	}
	if !strings.Contains(string(out), " passed, 0 failed") {
		t.Fatalf("smoke.sh did not report its summary line")
	}
}
