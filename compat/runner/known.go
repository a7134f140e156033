package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Known is compat/known_failures.txt: failures that are explained. Format,
// one entry a line, fields separated by whitespace:
//
//	<suite> <test> <fails|crashes> <reason...>
//
// <test> is the full test name as `go test -v` prints it (subtests with
// their parents, "/"-separated), or a kcat check id. "fails" allows the
// test to fail; "crashes" means the test takes the test binary down, so it
// is not run at all and counts as a failure. The reason is mandatory: the
// cause, and when the cause is a feature not built yet, the open issue
// that builds it. Blank lines and lines starting with # are ignored.
//
// A suite written "cluster:<suite>" (cluster:kgo) is an entry that applies
// only when the runner runs against a cluster (-cluster 2 or more): a
// failure caused by there being several brokers. It may not repeat a test
// that has an entry for every run.
type Known struct {
	entries map[string]map[string]knownEntry // suite -> test -> entry
}

type knownEntry struct {
	kind, reason string
	line         int
}

func loadKnown(path string, cluster bool) (*Known, error) {
	k := &Known{entries: map[string]map[string]knownEntry{}}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			return nil, fmt.Errorf("%s:%d: want <suite> <test> <fails|crashes> <reason>, every entry needs a reason", path, n)
		}
		suite, test, kind := fields[0], fields[1], fields[2]
		if s, ok := strings.CutPrefix(suite, "cluster:"); ok {
			if !cluster {
				continue
			}
			suite = s
		}
		if kind != "fails" && kind != "crashes" {
			return nil, fmt.Errorf("%s:%d: kind %q, want fails or crashes", path, n, kind)
		}
		reason := strings.Join(fields[3:], " ")
		if len(reason) < 15 {
			return nil, fmt.Errorf("%s:%d: reason %q is too short to explain anything", path, n, reason)
		}
		if k.entries[suite] == nil {
			k.entries[suite] = map[string]knownEntry{}
		}
		if _, dup := k.entries[suite][test]; dup {
			return nil, fmt.Errorf("%s:%d: %s %s listed twice", path, n, suite, test)
		}
		k.entries[suite][test] = knownEntry{kind: kind, reason: reason, line: n}
	}
	return k, sc.Err()
}

// NotRun returns the tests of suite that crash the binary, with reasons.
func (k *Known) NotRun(suite string) map[string]string {
	out := map[string]string{}
	for t, e := range k.entries[suite] {
		if e.kind == "crashes" {
			out[t] = e.reason
		}
	}
	return out
}

// Reason returns why a failure of test is expected, if it is.
func (k *Known) Reason(suite, test string) (string, bool) {
	e, ok := k.entries[suite][test]
	return e.reason, ok
}
