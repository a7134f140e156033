package main

// sluice produce: records from stdin, one per line.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/bench"
)

func init() { extraCommands = append(extraCommands, produceCmd) }

// kgoClient connects a franz-go client to the brokers and checks within
// --timeout that one answers, so unreachable brokers fail fast and clearly.
func (cf *clientFlags) kgoClient(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := cf.seeds()
	if err != nil {
		return nil, err
	}
	sec, err := cf.sec.opts()
	if err != nil {
		return nil, err
	}
	opts = append(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DialTimeout(5 * time.Second)}, sec...), opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, cf.clientErr(pctx, "connect", err)
	}
	return cl, nil
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	c, err := bench.CompressionCodec(name)
	if err != nil {
		return c, fmt.Errorf("unknown --compression %q (want none, gzip, snappy, lz4 or zstd)", name)
	}
	return c, nil
}

func acksOpts(acks string) ([]kgo.Opt, error) {
	switch acks {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, fmt.Errorf("unknown --acks %q (want all, -1, 1 or 0)", acks)
}

type produceOpts struct {
	keyDelim    string
	headers     []string
	partition   int32
	compression string
	acks        string
	maxLine     int
}

// produceResult is the summary `sluice produce` prints.
type produceResult struct {
	Topic    string `json:"topic"`
	Acked    int64  `json:"acknowledged"`
	Failed   int64  `json:"failed"`
	Error    string `json:"error,omitempty"`
	Acks     string `json:"acks"`
	Duration string `json:"duration"`
}

func produceCmd() *cobra.Command {
	var o produceOpts
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin, one per line",
		Long: `Produce one record per line of standard input to TOPIC, then report how
many the brokers acknowledged. With --key-delimiter, the text before the
first delimiter is the key. Exits non-zero if any record failed.`,
		Example: `  echo hello | sluice produce orders
  printf 'k1:v1\nk2:v2\n' | sluice produce orders --key-delimiter : --header source=cli
  sluice produce orders --compression zstd --acks 1 < records.txt`,
		Args: cobra.ExactArgs(1),
	}
	flags := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return runProduce(cmd, flags, args[0], &o) }
	f := cmd.Flags()
	f.StringVarP(&o.keyDelim, "key-delimiter", "K", "", "split each line into key and value at the first `delimiter`")
	f.StringArrayVarP(&o.headers, "header", "H", nil, "add header `key=value` to every record (repeatable)")
	f.Int32VarP(&o.partition, "partition", "p", -1, "produce to this partition (-1: hash the key, else spread)")
	f.StringVarP(&o.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4, zstd")
	f.StringVar(&o.acks, "acks", "all", "acknowledgements: all (-1), 1 or 0")
	f.IntVar(&o.maxLine, "max-line-bytes", 16<<20, "longest accepted input line")
	return cmd
}

func runProduce(cmd *cobra.Command, cf *clientFlags, topic string, o *produceOpts) error {
	if err := cf.checkFormat(); err != nil {
		return err
	}
	codec, err := compressionCodec(o.compression)
	if err != nil {
		return err
	}
	opts, err := acksOpts(o.acks)
	if err != nil {
		return err
	}
	var hdrs []kgo.RecordHeader
	for _, h := range o.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return fmt.Errorf("--header %q: want key=value", h)
		}
		hdrs = append(hdrs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec), kgo.RecordDeliveryTimeout(cf.timeout),
		kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	cl, err := cf.kgoClient(ctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	start := time.Now()
	var acked, failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	prog := startProgress("acknowledged")
	done := func(_ *kgo.Record, err error) {
		if err == nil {
			acked.Add(1)
			prog.add(1)
			return
		}
		failed.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	sc := bufio.NewScanner(cmd.InOrStdin())
	sc.Buffer(make([]byte, 64<<10), o.maxLine)
	for sc.Scan() && ctx.Err() == nil {
		line := sc.Text()
		r := &kgo.Record{Value: []byte(line), Headers: hdrs, Partition: o.partition}
		if o.keyDelim != "" {
			if k, v, ok := strings.Cut(line, o.keyDelim); ok {
				r.Key, r.Value = []byte(k), []byte(v)
			}
		}
		cl.Produce(ctx, r, done)
	}
	scanErr := sc.Err()
	if err := cl.Flush(context.Background()); err != nil && firstErr == nil {
		firstErr = err
	}
	prog.finish()
	res := produceResult{Topic: topic, Acked: acked.Load(), Failed: failed.Load(), Acks: o.acks,
		Duration: time.Since(start).Round(time.Millisecond).String()}
	if firstErr != nil {
		res.Error = strings.Join(strings.Fields(firstErr.Error()), " ")
	}
	out := cmd.OutOrStdout()
	if cf.wantJSON() {
		if err := printJSON(out, res); err != nil {
			return err
		}
	} else {
		verb := "acknowledged"
		if o.acks == "0" {
			verb = "sent (acks=0: not acknowledged)"
		}
		fmt.Fprintf(out, "Produced %d records to %s, %s, in %s.\n", res.Acked, topic, verb, res.Duration)
	}
	switch {
	case scanErr != nil:
		return fmt.Errorf("reading stdin: %w", scanErr)
	case res.Failed > 0:
		return fmt.Errorf("produce to %q: %d records failed: %s", topic, res.Failed, res.Error)
	}
	return nil
}
