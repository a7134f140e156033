package main

// sluice consume: print records, from an offset, a time or a group's
// committed position, until --num records or Ctrl-C.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() { extraCommands = append(extraCommands, consumeCmd) }

type consumeOpts struct {
	from       string
	group      string
	num        int
	partitions []int32
	exit       bool
}

func consumeCmd() *cobra.Command {
	var o consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic, following new ones until --num records or Ctrl-C",
		Long: `Print the records of TOPIC. Without --group, every partition is read from
--from. With --group, the group's committed offsets win, --from applies
where it has none, and the offsets of the printed records are committed.

--format table (the default) prints each value on its own line; --format json
prints one JSON object per record; any other --format is a template like
kcat's -f:
  %t topic  %p partition  %o offset  %T timestamp (ms)  %k key  %v value
  %h headers (k=v, comma separated)  %K key length  %S value length
  \n newline  \t tab  %% percent`,
		Example: `  sluice consume orders --from beginning --num 10
  sluice consume orders --group billing
  sluice consume orders --from offset:42 --partition 0 --format '%p:%o %k=%v\n'
  sluice consume orders --from beginning --exit > orders.txt
  sluice consume orders --from timestamp:2026-01-02T15:04:05Z`,
		Args: cobra.ExactArgs(1),
	}
	flags := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return runConsume(cmd, flags, args[0], &o) }
	f := cmd.Flags()
	f.StringVarP(&o.from, "from", "o", "end", "where to start: beginning, end, offset:N (or just N), -N (N before the end), timestamp:MS or timestamp:RFC3339")
	f.StringVarP(&o.group, "group", "g", "", "consume as this consumer group and commit its offsets")
	f.IntVarP(&o.num, "num", "n", 0, "exit after this many records (0: follow until Ctrl-C)")
	f.Int32SliceVarP(&o.partitions, "partition", "p", nil, "only these partitions (not with --group)")
	f.BoolVarP(&o.exit, "exit", "e", false, "exit once every partition read is caught up with its high watermark (as kcat -e)")
	return cmd
}

// parseFrom turns --from into a franz-go start offset.
func parseFrom(s string) (kgo.Offset, error) {
	off := kgo.NewOffset()
	switch {
	case s == "beginning" || s == "start" || s == "earliest":
		return off.AtStart(), nil
	case s == "end" || s == "latest":
		return off.AtEnd(), nil
	case strings.HasPrefix(s, "timestamp:"):
		v := strings.TrimPrefix(s, "timestamp:")
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return off.AfterMilli(ms), nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return off, fmt.Errorf("--from %q: want timestamp:MILLIS or timestamp:RFC3339", s)
		}
		return off.AfterMilli(t.UnixMilli()), nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "offset:"), 10, 64)
	if err != nil {
		return off, fmt.Errorf("--from %q: want beginning, end, offset:N, -N or timestamp:...", s)
	}
	if n < 0 {
		return off.AtEnd().Relative(n), nil
	}
	return off.At(n), nil
}

func runConsume(cmd *cobra.Command, cf *clientFlags, topic string, o *consumeOpts) error {
	start, err := parseFrom(o.from)
	if err != nil {
		return err
	}
	if o.num < 0 {
		return fmt.Errorf("--num %d: want 0 or more", o.num)
	}
	if o.group != "" && len(o.partitions) > 0 {
		return fmt.Errorf("--partition cannot be used with --group")
	}
	pr, err := newRecordPrinter(cf.format)
	if err != nil {
		return err
	}
	opts := []kgo.Opt{kgo.ConsumeResetOffset(start)}
	track := newCatchUp(o.exit)
	if o.exit {
		opts = append(opts, kgo.FetchMaxWait(500*time.Millisecond))
		if o.group != "" {
			opts = append(opts, kgo.OnPartitionsAssigned(track.assigned), kgo.OnPartitionsRevoked(track.revoked),
				kgo.OnPartitionsLost(track.revoked))
		}
	}
	switch {
	case o.group != "":
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.ConsumeTopics(topic), kgo.AutoCommitMarks())
	case len(o.partitions) > 0:
		ps := map[int32]kgo.Offset{}
		for _, p := range o.partitions {
			ps[p] = start
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: ps}))
	default:
		opts = append(opts, kgo.ConsumeTopics(topic))
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := cf.kgoClient(ctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	nparts, err := checkTopic(ctx, cf, cl, topic)
	if err != nil {
		return err
	}
	if o.group == "" {
		track.want(topic, o.partitions, nparts)
	}

	w := bufio.NewWriter(cmd.OutOrStdout())
	defer w.Flush()
	prog := startProgress("consumed")
	defer prog.finish()
	printed := 0
	for o.num == 0 || printed < o.num {
		fs, idle := poll(ctx, cl, o.exit)
		if ctx.Err() != nil || (idle && track.idle()) {
			break
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && fatal == nil {
				fatal = fmt.Errorf("consume %s[%d]: %w", t, p, err)
			}
		})
		if fatal != nil {
			return fatal
		}
		for _, r := range fs.Records() {
			if o.num > 0 && printed >= o.num {
				break
			}
			pr.print(w, r)
			printed++
			prog.add(1)
			if o.group != "" {
				cl.MarkCommitRecords(r)
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if track.observe(fs) {
			break
		}
	}
	if o.group != "" {
		cctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
		defer cancel()
		if err := cl.CommitMarkedOffsets(cctx); err != nil {
			return fmt.Errorf("commit offsets of group %q: %w", o.group, err)
		}
	}
	return nil
}

// exitIdle is how long `consume --exit` waits without any record before it
// takes every partition to be caught up (the client does not hand over
// fetches that returned nothing).
const exitIdle = 2 * time.Second

// poll waits for records; with exit, at most exitIdle, reporting idle when
// that passed without any.
func poll(ctx context.Context, cl *kgo.Client, exit bool) (kgo.Fetches, bool) {
	if !exit {
		return cl.PollFetches(ctx), false
	}
	pctx, cancel := context.WithTimeout(ctx, exitIdle)
	defer cancel()
	fs := cl.PollFetches(pctx)
	return fs, pctx.Err() != nil && ctx.Err() == nil && fs.NumRecords() == 0
}

// checkTopic fails clearly when the topic does not exist, rather than
// waiting for it forever.
// It returns the topic's partition count.
func checkTopic(ctx context.Context, cf *clientFlags, cl *kgo.Client, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	adm := newAdminFrom(cl)
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, cf.clientErr(ctx, "describe topic", err)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return 0, fmt.Errorf("topic %q: %w", topic, d.Err)
		}
		return 0, fmt.Errorf("topic %q does not exist", topic)
	}
	return len(d.Partitions), nil
}
