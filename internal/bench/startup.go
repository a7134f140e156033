package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StartupConfig is one `sluice bench startup` run: start the broker binary
// Runs times on an empty data dir and Runs times on a data dir holding
// Partitions partitions of data, and time each start to its first answer
// and to serving every partition.
type StartupConfig struct {
	// Serve is the command that runs a broker, without listener or data
	// dir flags (they are appended: --listeners, --log-dirs); default
	// "<this executable> serve".
	Serve []string
	CPUs  string // taskset CPU list for the broker; "" = not pinned

	Runs                int
	Partitions          int // 0: skip the data-dir scenario
	RecordsPerPartition int
	RecordSize          int
	IdleWait            time.Duration // after the first answer, before reading RSS

	DataDir  string    // parent of the temporary data dirs
	Progress io.Writer // one line per start; nil = none
	Command  string
}

// StartupRun is one start of the broker.
type StartupRun struct {
	Accept time.Duration // process start to the first TCP connection accepted
	Answer time.Duration // process start to the first ApiVersions response
	// Serve: process start to the first ListOffsets answered without an
	// error for every partition of the data (each has a leader and an
	// open log); Answer on an empty data dir. A broker answers
	// ApiVersions before its metadata and logs are loaded.
	Serve time.Duration
	RSS   int64 // VmRSS after IdleWait, bytes
}

// StartupScenario is every start on one kind of data dir.
type StartupScenario struct {
	Name       string
	Partitions int
	DataBytes  int64
	Runs       []StartupRun
}

// StartupReport is what RunStartup measured.
type StartupReport struct {
	Started   time.Time
	Machine   Machine
	Config    StartupConfig
	Scenarios []StartupScenario
}

// RunStartup measures broker start time and idle memory.
func RunStartup(ctx context.Context, c StartupConfig) (*StartupReport, error) {
	if len(c.Serve) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		c.Serve = []string{exe, "serve"}
	}
	c.Runs = max(c.Runs, 1)
	if c.RecordSize <= 0 {
		c.RecordSize = 1024
	}
	if c.IdleWait <= 0 {
		c.IdleWait = time.Second
	}
	note := func(format string, args ...any) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, format+"\n", args...)
		}
	}
	rep := &StartupReport{Started: time.Now(), Machine: probeMachine(c.DataDir), Config: c}

	empty := StartupScenario{Name: "empty data dir"}
	for i := 0; i < c.Runs; i++ {
		dir, err := os.MkdirTemp(c.DataDir, "sluice-startup-empty-")
		if err != nil {
			return rep, err
		}
		r, err := startOnce(ctx, &c, dir, "")
		os.RemoveAll(dir)
		if err != nil {
			return rep, fmt.Errorf("empty data dir, start %d: %w", i+1, err)
		}
		note("empty data dir, start %d: accepting after %v, answering after %v, serving after %v, RSS %.1f MB", i+1, r.Accept, r.Answer, r.Serve, float64(r.RSS)/1e6)
		empty.Runs = append(empty.Runs, r)
	}
	rep.Scenarios = append(rep.Scenarios, empty)

	if c.Partitions > 0 {
		dir, err := os.MkdirTemp(c.DataDir, "sluice-startup-data-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		note("filling %s: %d partitions x %d records of %d bytes", dir, c.Partitions, c.RecordsPerPartition, c.RecordSize)
		if err := fillDataDir(ctx, &c, dir); err != nil {
			return rep, fmt.Errorf("filling the data dir: %w", err)
		}
		sc := StartupScenario{Name: fmt.Sprintf("%d partitions of data", c.Partitions), Partitions: c.Partitions, DataBytes: dirSize(dir)}
		for i := 0; i < c.Runs; i++ {
			r, err := startOnce(ctx, &c, dir, startupTopic)
			if err != nil {
				return rep, fmt.Errorf("%s, start %d: %w", sc.Name, i+1, err)
			}
			note("%s, start %d: accepting after %v, answering after %v, serving after %v, RSS %.1f MB", sc.Name, i+1, r.Accept, r.Answer, r.Serve, float64(r.RSS)/1e6)
			sc.Runs = append(sc.Runs, r)
		}
		rep.Scenarios = append(rep.Scenarios, sc)
	}
	return rep, nil
}

// broker is one started broker process.
type brokerProc struct {
	cmd   *exec.Cmd
	addr  string
	start time.Time
	done  chan struct{} // closed when the process has exited
	err   error         // cmd.Wait's, once done is closed
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func launch(c *StartupConfig, dir string) (*brokerProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	argv := append(append([]string(nil), c.Serve...), "--listeners", "PLAINTEXT://"+addr, "--log-dirs", dir, "--log-level", "warn")
	if c.CPUs != "" {
		argv = append([]string{"taskset", "-c", c.CPUs}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if c.Progress != nil {
		cmd.Stderr = c.Progress
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &brokerProc{cmd: cmd, addr: addr, start: start, done: make(chan struct{})}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	return b, nil
}

func (b *brokerProc) stop() error {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		return b.err
	case <-time.After(60 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
		return errors.New("did not stop within 60s; killed")
	}
}

// waitReady polls addr until a connection is accepted and then until an
// ApiVersions request is answered, and returns both times since start.
func (b *brokerProc) waitReady(ctx context.Context, limit time.Duration) (accept, answer time.Duration, err error) {
	deadline := b.start.Add(limit)
	for {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return accept, 0, fmt.Errorf("no ApiVersions answer within %v", limit)
		}
		select {
		case <-b.done:
			return 0, 0, fmt.Errorf("broker exited before answering: %v", b.err)
		default:
		}
		nc, err := net.DialTimeout("tcp", b.addr, 100*time.Millisecond)
		if err != nil {
			time.Sleep(500 * time.Microsecond)
			continue
		}
		if accept == 0 {
			accept = time.Since(b.start)
		}
		ok := apiVersions(nc, deadline)
		nc.Close()
		if ok {
			return accept, time.Since(b.start), nil
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// waitServing polls until ListOffsets answers every one of topic's
// partitions partitions without an error, and returns the time since
// start.
func (b *brokerProc) waitServing(ctx context.Context, topic string, partitions int, limit time.Duration) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := b.start.Add(limit)
	for {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not served within %v", topic, limit)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil && ends.Error() == nil {
			n := 0
			ends.Each(func(kadm.ListedOffset) { n++ })
			if n == partitions {
				return time.Since(b.start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// apiVersions sends an ApiVersions v0 request and reports whether an
// answer with the same correlation id came back.
func apiVersions(nc net.Conn, deadline time.Time) bool {
	_ = nc.SetDeadline(deadline)
	const clientID = "sluice-bench-startup"
	req := binary.BigEndian.AppendUint32(nil, uint32(2+2+4+2+len(clientID)))
	req = binary.BigEndian.AppendUint16(req, 18) // ApiVersions
	req = binary.BigEndian.AppendUint16(req, 0)
	req = binary.BigEndian.AppendUint32(req, 7)
	req = binary.BigEndian.AppendUint16(req, uint16(len(clientID)))
	req = append(req, clientID...)
	if _, err := nc.Write(req); err != nil {
		return false
	}
	br := bufio.NewReader(nc)
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return false
	}
	return binary.BigEndian.Uint32(hdr[4:]) == 7
}

// startupTopic is the topic fillDataDir writes.
const startupTopic = "startup-data"

func startOnce(ctx context.Context, c *StartupConfig, dir, topic string) (StartupRun, error) {
	b, err := launch(c, dir)
	if err != nil {
		return StartupRun{}, err
	}
	var r StartupRun
	r.Accept, r.Answer, err = b.waitReady(ctx, 2*time.Minute)
	r.Serve = r.Answer
	if err == nil && topic != "" {
		r.Serve, err = b.waitServing(ctx, topic, c.Partitions, 2*time.Minute)
	}
	if err == nil {
		time.Sleep(c.IdleWait)
		var m MemSample
		if m, err = ReadMem(b.cmd.Process.Pid); err == nil {
			r.RSS = m.RSS
		}
	}
	return r, errors.Join(err, b.stop())
}

// fillDataDir starts a broker on dir, creates a topic of c.Partitions
// partitions, writes c.RecordsPerPartition records to each, and stops the
// broker cleanly.
func fillDataDir(ctx context.Context, c *StartupConfig, dir string) (err error) {
	b, err := launch(c, dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stop()) }()
	if _, _, err := b.waitReady(ctx, 2*time.Minute); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer cl.Close()
	const topic = startupTopic
	if err := createTopic(ctx, []string{b.addr}, topic, int32(c.Partitions), 1, nil); err != nil {
		return err
	}
	value := payload(c.RecordSize, 1)
	var fe firstErr
	fe.cancel = func() {}
	for p := 0; p < c.Partitions; p++ {
		for i := 0; i < c.RecordsPerPartition; i++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					fe.set(err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err := fe.get(); err != nil {
		return err
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if want := int64(c.Partitions) * int64(c.RecordsPerPartition); total != want {
		return fmt.Errorf("the topic holds %d records, want %d", total, want)
	}
	return nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// WriteMarkdown renders the startup report.
func (r *StartupReport) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	m, c := r.Machine, r.Config
	p("### sluice bench startup, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if c.Command != "" {
		p("```\n%s\n```\n\n", c.Command)
	}
	p("- Machine: %s, NumCPU %d, %s/%s %s, %s\n", m.CPU, m.NumCPU, m.OS, m.Arch, m.Kernel, m.GoVersion)
	p("- At the start: load average %s; a 4 KiB write+fsync in the data dir takes %s (median of 32)\n", m.LoadAvg, fmtDur(m.FsyncP50))
	pin := "not pinned"
	if c.CPUs != "" {
		pin = "pinned to CPU(s) " + c.CPUs
	}
	p("- Broker: `%s`, %s; the prober polls from the bench process (allowed CPU(s) %s)\n", joinArgs(c.Serve), pin, m.CPUsAllowed)
	p("- accepting: process start to the first TCP connection accepted; answering: to the first ApiVersions response; "+
		"serving: to the first ListOffsets answered for every partition of the data without an error (= answering on an empty data dir); "+
		"RSS: VmRSS %v after serving, idle\n\n", c.IdleWait)
	p("| data dir | starts | accepting p50 | answering p50 | answering max | serving p50 | serving max | idle RSS p50 | idle RSS max |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		var acc, ans, srv []time.Duration
		var rss []int64
		for _, x := range s.Runs {
			acc, ans, srv, rss = append(acc, x.Accept), append(ans, x.Answer), append(srv, x.Serve), append(rss, x.RSS)
		}
		slices.Sort(acc)
		slices.Sort(ans)
		slices.Sort(srv)
		slices.Sort(rss)
		name := s.Name
		if s.DataBytes > 0 {
			name += fmt.Sprintf(" (%s on disk)", fmtBytes(s.DataBytes))
		}
		mid := (len(ans) - 1) / 2
		p("| %s | %d | %s | %s | %s | %s | %s | %.1f MB | %.1f MB |\n", name, len(s.Runs), fmtDur(acc[mid]), fmtDur(ans[mid]), fmtDur(ans[len(ans)-1]),
			fmtDur(srv[mid]), fmtDur(srv[len(srv)-1]), float64(rss[mid])/1e6, float64(rss[len(rss)-1])/1e6)
	}
	p("\n")
	return bw.Flush()
}

func joinArgs(a []string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += " "
		}
		if i == 0 {
			s = filepath.Base(s)
		}
		out += s
	}
	return out
}
