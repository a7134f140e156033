package main

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildCrashy compiles testdata/crashy, a fake suite with a pass, a skip,
// a failure and subtests that panic or hang on demand.
func buildCrashy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crashy.test")
	out, err := exec.Command("go", "test", "-c", "-o", bin, "./testdata/crashy").CombinedOutput()
	if err != nil {
		t.Fatalf("building testdata/crashy: %v\n%s", err, out)
	}
	return bin
}

func TestRunRecoversFromCrashes(t *testing.T) {
	bin := buildCrashy(t)
	for _, tc := range []struct {
		mode    string
		culprit string
		runs    int
	}{
		{"none", "", 1},
		{"panic", "TestParent/boom", 2},
		{"hang", "TestParent/hang", 2},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := &GoSuite{
				Name: "crashy", Binary: bin, Dir: ".", Timeout: 5 * time.Second, Log: io.Discard,
				Env: []string{"CRASHY_MODE=" + tc.mode},
			}
			res := s.Run(context.Background())
			if res.Error != "" {
				t.Fatalf("suite error: %s", res.Error)
			}
			want := map[string]Status{
				"TestA": Pass, "TestSkipped": Skip, "TestFails": Fail, "TestZ": Pass,
				"TestParent/ok": Pass, "TestParent/boom": Pass, "TestParent/hang": Pass, "TestParent/after": Pass,
			}
			if tc.culprit != "" {
				want[tc.culprit] = Fail
			}
			got := res.Leaves()
			for name, st := range want {
				if got[name] != st {
					t.Errorf("%s: %q, want %q (notes %q)", name, got[name], st, res.Notes[name])
				}
			}
			if len(got) != len(want) {
				t.Errorf("leaves %v, want %d of them", got, len(want))
			}
			if res.Runs != tc.runs {
				t.Errorf("binary ran %d times, want %d", res.Runs, tc.runs)
			}
			if res.SkipReasons["TestSkipped"] == "" {
				t.Errorf("no skip reason recorded for TestSkipped")
			}
		})
	}
}

func TestNotRunIsSkippedAndFailed(t *testing.T) {
	bin := buildCrashy(t)
	s := &GoSuite{
		Name: "crashy", Binary: bin, Dir: ".", Timeout: 5 * time.Second, Log: io.Discard,
		Env:    []string{"CRASHY_MODE=panic"},
		NotRun: map[string]string{"TestParent/boom": "panics in the client's own test"},
	}
	res := s.Run(context.Background())
	if res.Runs != 1 {
		t.Errorf("binary ran %d times, want 1: the crashing test should not have run", res.Runs)
	}
	if got := res.Leaves()["TestParent/boom"]; got != Fail {
		t.Errorf("TestParent/boom: %q, want FAIL (not run)", got)
	}
	if got := res.Leaves()["TestParent/after"]; got != Pass {
		t.Errorf("TestParent/after: %q, want PASS", got)
	}
}
