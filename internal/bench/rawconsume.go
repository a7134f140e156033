package bench

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// Raw consumption: a lighter load generator for the consume phase. It sends
// Fetch requests itself (franz-go's kmsg through kgo's connection) and
// counts records from the batch headers and checks each batch's CRC,
// without decoding records into kgo.Record values, so one client core can
// drain a broker that a record-decoding consumer could not keep up with.

// rawFetch reads parts from their start to their end offsets and calls
// got with the records of each batch.
func rawFetch(ctx context.Context, c *Config, cl *kgo.Client, topic string, parts []partitionRange, got func(records int64)) error {
	next := map[int32]int64{}
	for _, p := range parts {
		if p.end > p.start {
			next[p.partition] = p.start
		}
	}
	end := map[int32]int64{}
	for _, p := range parts {
		end[p.partition] = p.end
	}
	for len(next) > 0 {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12 // topics by name
		req.ReplicaID = -1
		req.MaxWaitMillis = 500
		req.MinBytes = 1
		req.MaxBytes = c.FetchMaxBytes
		req.SessionEpoch = -1
		t := kmsg.NewFetchRequestTopic()
		t.Topic = topic
		for p, off := range next {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition = p
			fp.FetchOffset = off
			fp.PartitionMaxBytes = c.FetchMaxPartitionBytes
			fp.CurrentLeaderEpoch = -1
			fp.LogStartOffset = -1
			t.Partitions = append(t.Partitions, fp)
		}
		req.Topics = append(req.Topics, t)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return err
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return fmt.Errorf("fetch %s/%d: %w", rt.Topic, rp.Partition, err)
				}
				off, ok := next[rp.Partition]
				if !ok {
					continue
				}
				b := rp.RecordBatches
				for len(b) >= record.HeaderSize {
					h, err := record.ParseHeader(b)
					if err != nil {
						return fmt.Errorf("fetch %s/%d: %w", rt.Topic, rp.Partition, err)
					}
					if h.Size() > len(b) {
						break // a partial batch at the end of the response
					}
					if err := record.CheckCRC(b[:h.Size()]); err != nil {
						return fmt.Errorf("fetch %s/%d at %d: %w", rt.Topic, rp.Partition, h.BaseOffset, err)
					}
					if h.LastOffset() >= off {
						if h.BaseOffset < off {
							return fmt.Errorf("fetch %s/%d: batch %d-%d straddles offset %d", rt.Topic, rp.Partition, h.BaseOffset, h.LastOffset(), off)
						}
						got(int64(h.NumRecords))
						off = h.LastOffset() + 1
					}
					b = b[h.Size():]
				}
				if off >= end[rp.Partition] {
					delete(next, rp.Partition)
				} else {
					next[rp.Partition] = off
				}
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
