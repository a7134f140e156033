package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// report prints the table and the details, and returns the exit code: 0
// when every failure is explained in the allow-list and every suite ran.
// partialRun is set when -run limited the Go suites.
var partialRun bool

func report(w io.Writer, results []*Result, known *Known) int {
	code := 0
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-9s %7s %7s %8s  %s\n", "suite", "passed", "failed", "skipped", "failures (known = explained in compat/known_failures.txt)")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 100))
	for _, r := range results {
		p, f, s := r.Counts()
		var names []string
		for name, st := range r.Leaves() {
			if st == Fail {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		var lines []string
		if r.Error != "" {
			lines = append(lines, "SUITE ERROR: "+r.Error)
			code = 1
		}
		for _, n := range names {
			tag := "UNEXPECTED"
			if _, ok := known.Reason(r.Suite, n); ok {
				tag = "known"
			} else {
				code = 1
			}
			if note := r.Notes[n]; strings.HasPrefix(note, "panicked") || strings.HasPrefix(note, "timed out") || strings.HasPrefix(note, "running when") {
				tag += ", " + note
			}
			lines = append(lines, fmt.Sprintf("%s (%s)", n, tag))
		}
		if len(lines) == 0 {
			lines = []string{"-"}
		}
		for i, l := range lines {
			if i == 0 {
				fmt.Fprintf(w, "%-9s %7d %7d %8d  %s\n", r.Suite, p, f, s, l)
			} else {
				fmt.Fprintf(w, "%-9s %7s %7s %8s  %s\n", "", "", "", "", l)
			}
		}
	}
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 100))

	// Details: why each failure is known, what the unexplained ones said,
	// the skips, and allow-list entries that no longer fail.
	for _, r := range results {
		leaves := r.Leaves()
		var fails, skips []string
		for n, st := range leaves {
			switch st {
			case Fail:
				fails = append(fails, n)
			case Skip:
				skips = append(skips, n)
			}
		}
		sort.Strings(fails)
		sort.Strings(skips)
		if len(fails) > 0 {
			fmt.Fprintf(w, "\n%s failures:\n", r.Suite)
			for _, n := range fails {
				if why, ok := known.Reason(r.Suite, n); ok {
					fmt.Fprintf(w, "  known       %s: %s\n", n, why)
				} else {
					detail := r.Notes[n]
					if detail == "" {
						detail = "see the suite's output.log"
					}
					fmt.Fprintf(w, "  UNEXPECTED  %s: %s\n", n, detail)
				}
			}
		}
		if len(skips) > 0 {
			fmt.Fprintf(w, "\n%s skips:\n", r.Suite)
			for _, n := range skips {
				fmt.Fprintf(w, "  %s: %s\n", n, r.SkipReasons[n])
			}
		}
		var stale []string
		for t := range known.entries[r.Suite] {
			if st, ok := leaves[t]; ok && st != Fail {
				stale = append(stale, fmt.Sprintf("%s (%s)", t, st))
			} else if !ok && r.Error == "" && !partialRun {
				if _, parent := r.Status[t]; !parent {
					stale = append(stale, t+" (not found)")
				}
			}
		}
		sort.Strings(stale)
		for _, t := range stale {
			fmt.Fprintf(w, "\nnote: %s %s is in known_failures.txt but did not fail: remove the entry\n", r.Suite, t)
		}
	}
	if code != 0 {
		fmt.Fprintln(w, "\ncompat: FAILED: unexplained failures or suite errors above")
	} else {
		fmt.Fprintln(w, "\ncompat: ok (every failure is explained in compat/known_failures.txt)")
	}
	return code
}
