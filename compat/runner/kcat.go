package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// runKcat runs compat/kcat.sh against addr, one of brokers brokers, with
// env added to its environment; each "ok   <id>" or "FAIL <id>: <detail>"
// line is one check.
func runKcat(ctx context.Context, script, addr string, brokers int, log io.Writer, env ...string) *Result {
	res := newResult("kcat")
	res.Runs = 1
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = append(append(os.Environ(), "BROKER="+addr, fmt.Sprintf("BROKERS=%d", brokers)), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		res.Error = err.Error()
		return res
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			switch {
			case strings.HasPrefix(line, "ok   "):
				res.set(strings.TrimSpace(line[5:]), Pass, "")
			case strings.HasPrefix(line, "FAIL "):
				id, detail, _ := strings.Cut(line[5:], ": ")
				res.set(strings.TrimSpace(id), Fail, detail)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if err != nil && len(res.Status) == 0 {
		res.Error = fmt.Sprintf("kcat.sh: %v", err)
	}
	return res
}
