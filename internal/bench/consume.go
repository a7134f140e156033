package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// partitionRange is what one partition holds.
type partitionRange struct {
	partition  int32
	start, end int64
}

// listRanges asks for the start and end offset of every partition of topic.
func listRanges(ctx context.Context, seeds []string, topic string, opts ...kgo.Opt) ([]partitionRange, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var out []partitionRange
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, e.Partition)
		out = append(out, partitionRange{partition: e.Partition, start: s.Offset, end: e.Offset})
	})
	return out, nil
}

// consumerOpts are the options every bench consumer uses: no group, and
// fetches big enough that one request carries many batches.
func consumerOpts(c *Config, seeds []string, topic string, parts []partitionRange) []kgo.Opt {
	assign := map[int32]kgo.Offset{}
	for _, p := range parts {
		assign[p.partition] = kgo.NewOffset().At(p.start)
	}
	return append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchMaxBytes(c.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(c.FetchMaxPartitionBytes),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, c.conn...)
}

// runConsume reads topic back from its start offsets with up to
// c.Consumers groupless clients, each assigned partitions round robin,
// and times from creating the clients until the last record arrives.
func runConsume(ctx context.Context, c *Config, pr *progress, target string, seeds []string, topic string, size int) (PhaseResult, error) {
	ranges, err := listRanges(ctx, seeds, topic, c.conn...)
	if err != nil {
		return PhaseResult{}, err
	}
	n := min(c.Consumers, len(ranges))
	if n == 0 {
		return PhaseResult{}, errors.New("topic has no partitions")
	}
	assigned := make([][]partitionRange, n)
	var total int64
	for i, r := range ranges {
		assigned[i%n] = append(assigned[i%n], r)
		total += r.end - r.start
	}

	ph, ctx, cancel := startPhase(ctx, pr, fmt.Sprintf("%s consume %dB", target, size), total)
	defer cancel()
	m, setErr := &ph.m, ph.fe.set

	var wg sync.WaitGroup
	for _, parts := range assigned {
		var want int64
		for _, p := range parts {
			want += p.end - p.start
		}
		opts := consumerOpts(c, seeds, topic, parts)
		if c.RawConsume {
			// Fetch v12 names topics; kgo would otherwise send the newest
			// version, which names them by ID.
			v := kversion.Stable()
			v.SetMaxKeyVersion(int16(kmsg.Fetch), 12)
			opts = append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MaxVersions(v)}, c.conn...)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			setErr(err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			if c.RawConsume {
				err := rawFetch(ctx, c, cl, topic, parts, func(n int64) {
					m.records.Add(n)
					m.bytes.Add(n * int64(size))
				})
				if err != nil && ctx.Err() == nil {
					setErr(err)
				}
				return
			}
			var got int64
			for got < want {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					return
				}
				for _, e := range fs.Errors() {
					setErr(fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err))
					return
				}
				fs.EachPartition(func(p kgo.FetchTopicPartition) {
					var b int64
					for _, r := range p.Records {
						b += int64(len(r.Value))
					}
					got += int64(len(p.Records))
					m.records.Add(int64(len(p.Records)))
					m.bytes.Add(b)
				})
			}
		}()
	}
	wg.Wait()

	res, err := ph.end()
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%d of %d records read: %w", res.Records, total, err)
	}
	if res.Records != total {
		return res, fmt.Errorf("read %d records, the topic holds %d", res.Records, total)
	}
	ph.note(res)
	return res, nil
}
