package api

import (
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(0, 0, 12, handleProduce) }

// produced is one partition's append, waiting to be committed.
type produced struct {
	p    *replica.Partition
	resp *kmsg.ProduceResponseTopicPartition
	upTo int64
}

// handleProduce validates and appends in the read loop, so pipelined
// requests reach each log in order; the Reply then waits for durability
// (group commit: pipelined requests usually share one fsync).
func handleProduce(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	if r.Acks != 0 && r.Acks != 1 && r.Acks != -1 {
		for _, rt := range r.Topics {
			t := kmsg.NewProduceResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition = rp.Partition
				p.ErrorCode = kerr.InvalidRequiredAcks.Code
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return server.Ready(&server.Response{Msg: resp})
	}
	img := e.Meta.Image()
	var waits []produced
	for _, rt := range r.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name := rt.Topic
		if r.Version >= 13 {
			if ti := img.TopicsByID[metadata.UUID(rt.TopicID)]; ti != nil {
				name = ti.Name
			}
		}
		t.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			pr := &t.Partitions[i]
			*pr = kmsg.NewProduceResponseTopicPartition()
			pr.Partition = rp.Partition
			p := e.Parts.Get(name, rp.Partition)
			if p == nil {
				pr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if r.Version >= 13 {
					pr.ErrorCode = kerr.UnknownTopicID.Code
				}
				continue
			}
			upTo, code, msg := appendRecords(p, rp.Records, pr)
			pr.ErrorCode = code
			if msg != "" {
				pr.ErrorMessage = &msg
			}
			if code == 0 {
				waits = append(waits, produced{p, pr, upTo})
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	if r.Acks == 0 {
		// No response is sent, but the records still become durable and
		// visible: commit in the background.
		for _, w := range waits {
			go w.p.Commit(w.upTo)
		}
		return server.Ready(&server.Response{None: true})
	}
	return func() *server.Response {
		commitAll(waits)
		return &server.Response{Msg: resp}
	}
}

// commitAll waits for every partition's fsync, in parallel across logs.
func commitAll(waits []produced) {
	commit := func(w produced) {
		if err := w.p.Commit(w.upTo); err != nil {
			w.resp.ErrorCode = kerr.KafkaStorageError.Code
			w.resp.BaseOffset = -1
		}
	}
	if len(waits) == 1 {
		commit(waits[0])
		return
	}
	var wg sync.WaitGroup
	for _, w := range waits {
		wg.Add(1)
		go func() { defer wg.Done(); commit(w) }()
	}
	wg.Wait()
}

// appendRecords validates a partition's record set and appends it. Nothing
// is written unless every batch in the set is valid.
func appendRecords(p *replica.Partition, records []byte, pr *kmsg.ProduceResponseTopicPartition) (int64, int16, string) {
	cfg := p.Config()
	if len(records) == 0 {
		return 0, kerr.InvalidRecord.Code, "empty record set"
	}
	var count int64
	err := record.Split(records, func(h record.Header, batch []byte) error {
		if int64(len(batch)) > cfg.MaxMessageBytes {
			return errTooLarge
		}
		if _, err := record.Validate(batch); err != nil {
			return err
		}
		count += int64(h.NumRecords)
		return nil
	})
	if err != nil {
		return 0, produceErrorCode(err), err.Error()
	}
	logAppend := cfg.TimestampType == "LogAppendTime"
	var now int64
	if logAppend {
		now = time.Now().UnixMilli()
		_ = record.Split(records, func(_ record.Header, batch []byte) error {
			record.SetLogAppendTime(batch, now)
			return nil
		})
	}
	info, err := p.Append(records, count)
	if err != nil {
		return 0, kerr.KafkaStorageError.Code, err.Error()
	}
	pr.BaseOffset = info.FirstOffset
	pr.LogStartOffset = p.LogStartOffset()
	pr.LogAppendTime = -1
	if logAppend {
		pr.LogAppendTime = now
	}
	return info.LastOffset + 1, 0, ""
}

var errTooLarge = errors.New("batch larger than max.message.bytes")

func produceErrorCode(err error) int16 {
	switch {
	case errors.Is(err, errTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, record.ErrCRC):
		return kerr.CorruptMessage.Code
	case errors.Is(err, record.ErrMagic):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, record.ErrShort):
		return kerr.CorruptMessage.Code
	default:
		return kerr.InvalidRecord.Code
	}
}
