package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Status of one test (or subtest) identifier.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is what one suite produced: the final status of every test
// identifier seen (full names, subtests included), and notes such as
// "panicked" or "timed out" for tests that took the binary down.
type Result struct {
	Suite  string            `json:"suite"`
	Status map[string]Status `json:"status"`
	Notes  map[string]string `json:"notes"`
	// SkipReasons holds the first line a skipped test logged (its t.Skip
	// message), when the suite's output allows finding it.
	SkipReasons map[string]string `json:"skip_reasons"`
	// Error is set when the suite could not run at all (build, broker).
	Error string `json:"error,omitempty"`
	Runs  int    `json:"runs"`
}

func newResult(suite string) *Result {
	return &Result{Suite: suite, Status: map[string]Status{}, Notes: map[string]string{}, SkipReasons: map[string]string{}}
}

func (r *Result) set(name string, s Status, note string) {
	if old, ok := r.Status[name]; ok && old == Fail && s != Fail {
		return // a failure in any run stands
	}
	r.Status[name] = s
	if note != "" {
		r.Notes[name] = note
	}
}

// Leaves returns the identifiers that are counted: tests with no subtests,
// plus a parent that failed although none of its subtests did (the failure
// is in the parent's own body).
func (r *Result) Leaves() map[string]Status {
	names := make([]string, 0, len(r.Status))
	for n := range r.Status {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]Status{}
	for _, n := range names {
		var kids, failedKids int
		for _, m := range names {
			if strings.HasPrefix(m, n+"/") {
				kids++
				if r.Status[m] == Fail {
					failedKids++
				}
			}
		}
		switch {
		case kids == 0:
			out[n] = r.Status[n]
		case r.Status[n] == Fail && failedKids == 0:
			out[n] = Fail
		}
	}
	return out
}

// Counts returns passed, failed, skipped over Leaves.
func (r *Result) Counts() (p, f, s int) {
	for _, st := range r.Leaves() {
		switch st {
		case Pass:
			p++
		case Fail:
			f++
		case Skip:
			s++
		}
	}
	return
}

var (
	resultLine = regexp.MustCompile(`^(\s*)--- (PASS|FAIL|SKIP): (\S+) \(`)
	eventLine  = regexp.MustCompile(`^=== (RUN|CONT|NAME|PAUSE)\s+(\S+)`)
	timedOut   = regexp.MustCompile(`^panic: test timed out after`)
)

// runOutput is what one execution of a test binary printed, parsed.
type runOutput struct {
	results  map[string]Status
	order    []string // result lines in the order printed
	started  map[string]bool
	panicked bool
	timeout  bool
	running  []string // "running tests:" after a timeout
	lastLog  map[string]string
}

func parseRun(rd io.Reader, tee io.Writer) (*runOutput, error) {
	o := &runOutput{results: map[string]Status{}, started: map[string]bool{}, lastLog: map[string]string{}}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	inRunning := false
	current := ""
	for sc.Scan() {
		line := sc.Text()
		if tee != nil {
			fmt.Fprintln(tee, line)
		}
		if inRunning {
			t := strings.TrimSpace(line)
			if strings.HasPrefix(line, "\t") && t != "" {
				if i := strings.Index(t, " ("); i > 0 {
					t = t[:i]
				}
				o.running = append(o.running, t)
				continue
			}
			inRunning = false
		}
		if m := resultLine.FindStringSubmatch(line); m != nil {
			o.results[m[3]] = Status(m[2])
			o.order = append(o.order, m[3])
			continue
		}
		if m := eventLine.FindStringSubmatch(line); m != nil {
			current = m[2]
			if m[1] == "RUN" {
				o.started[m[2]] = true
			}
			continue
		}
		if strings.HasPrefix(line, "panic: ") {
			o.panicked = true
			if timedOut.MatchString(line) {
				o.timeout = true
			}
			continue
		}
		if strings.TrimSpace(line) == "running tests:" && o.timeout {
			inRunning = true
			continue
		}
		if current != "" && strings.HasPrefix(line, "    ") {
			// Keep the last line, but prefer one that reads like a skip
			// or failure message over cleanup chatter logged after it.
			l := strings.TrimSpace(line)
			if prev, ok := o.lastLog[current]; !ok || !explains(l) == !explains(prev) || explains(l) {
				o.lastLog[current] = l
			}
		}
	}
	return o, sc.Err()
}

var explainsRE = regexp.MustCompile(`(?i)skip|support|not set|requires|broker|expect|unexpected|error|fail|got |want`)

func explains(l string) bool { return explainsRE.MatchString(l) }

// GoSuite describes one client's compiled test binary.
type GoSuite struct {
	Name    string
	Binary  string
	Dir     string // the package's source directory: tests read files relative to it
	Env     []string
	Timeout time.Duration // per execution of the binary
	// NotRun are tests (full names) known to crash the binary; they are
	// skipped and recorded as failures with the reason from the allow-list.
	NotRun map[string]string
	// RunPattern, when set, is passed as -test.run.
	RunPattern string
	Log        io.Writer
}

// anchored turns a full test name into a -test.run/-test.skip pattern
// matching exactly that test (per slash-separated level).
func anchored(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func isAncestor(a, b string) bool { return strings.HasPrefix(b, a+"/") }

// innermost drops the names that are ancestors of other names.
func innermost(names []string) []string {
	var out []string
	for _, n := range names {
		inner := true
		for _, other := range names {
			if isAncestor(n, other) {
				inner = false
			}
		}
		if inner {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Run executes the binary, and when it dies (a panic in a test, or the
// timeout), records the culprits as failures and runs it again skipping
// everything that already finished, so one crash does not hide the rest of
// the suite.
func (s *GoSuite) Run(ctx context.Context) *Result {
	res := newResult(s.Name)
	done := map[string]bool{} // finished identifiers that need not run again
	for name, why := range s.NotRun {
		res.set(name, Fail, "not run: "+why)
		done[name] = true
	}
	const maxRuns = 12
	for run := 1; run <= maxRuns; run++ {
		res.Runs = run
		var skips []string
		for name := range done {
			covered := false
			for other := range done {
				if isAncestor(other, name) {
					covered = true
					break
				}
			}
			if !covered {
				skips = append(skips, anchored(name))
			}
		}
		sort.Strings(skips)
		args := []string{"-test.v", "-test.timeout", s.Timeout.String(), "-test.count", "1"}
		if s.RunPattern != "" {
			args = append(args, "-test.run", s.RunPattern)
		}
		if len(skips) > 0 {
			args = append(args, "-test.skip", strings.Join(skips, "|"))
		}
		fmt.Fprintf(s.Log, "### %s run %d: %s %s\n", s.Name, run, s.Binary, strings.Join(quoteArgs(args), " "))
		cmd := exec.CommandContext(ctx, s.Binary, args...)
		cmd.Dir = s.Dir
		cmd.Env = append(os.Environ(), s.Env...)
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			res.Error = err.Error()
			return res
		}
		parsed := make(chan *runOutput, 1)
		go func() {
			o, _ := parseRun(pr, s.Log)
			parsed <- o
		}()
		werr := cmd.Wait()
		pw.Close()
		o := <-parsed

		// Culprits: the test that panicked (its FAIL line is the last one
		// flushed before the panic) or the tests running at the timeout.
		var culprits []string
		note := ""
		if o.timeout {
			// Only the innermost running tests: a parent listed as
			// running is waiting for them, and its other subtests must
			// get their turn in the next run.
			culprits = innermost(o.running)
			note = "timed out (binary killed after " + s.Timeout.String() + ")"
		} else if o.panicked && len(o.order) > 0 && o.results[o.order[len(o.order)-1]] == Fail {
			culprits, note = []string{o.order[len(o.order)-1]}, "panicked, taking the test binary down"
		} else if o.panicked {
			// A panic outside any test's goroutine: blame the tests that
			// had started and not finished.
			var unfinished []string
			for name := range o.started {
				if _, ok := o.results[name]; !ok {
					unfinished = append(unfinished, name)
				}
			}
			culprits = innermost(unfinished)
			note = "running when the binary crashed (panic outside a test goroutine)"
		}
		crashed := o.panicked
		for name, st := range o.results {
			onPath := false
			for _, c := range culprits {
				if isAncestor(name, c) {
					onPath = true
				}
			}
			if crashed && onPath {
				continue // reported only because a descendant crashed
			}
			note := ""
			if st == Fail {
				note = o.lastLog[name]
			}
			res.set(name, st, note)
			if why := o.lastLog[name]; st == Skip && why != "" {
				res.SkipReasons[name] = why
			}
			done[name] = true
		}
		for _, c := range culprits {
			res.set(c, Fail, note)
			done[c] = true
		}
		if !crashed {
			if werr != nil && len(o.results) == 0 {
				res.Error = fmt.Sprintf("test binary failed without running tests: %v", werr)
			}
			return res
		}
		if len(culprits) == 0 {
			res.Error = fmt.Sprintf("test binary crashed and no test could be blamed: %v", werr)
			return res
		}
		fmt.Fprintf(s.Log, "### %s: binary died (%s: %s); running the rest again\n", s.Name, note, strings.Join(culprits, ", "))
	}
	res.Error = fmt.Sprintf("gave up after %d crashed runs", maxRuns)
	return res
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " |^$*()[]\\") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}
