package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(21, 0, 2, handleDeleteRecords) }

// handleDeleteRecords moves each partition's log start offset up to the
// requested offset (-1: the high watermark). Fetches below it then get
// OFFSET_OUT_OF_RANGE; segments wholly below it are deleted at once.
func handleDeleteRecords(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DeleteRecordsRequest)
	resp := kmsg.NewPtrDeleteRecordsResponse()
	z := authorizer(e, req)
	for _, rt := range r.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		denied := !z.topic(auth.OpDelete, rt.Topic)
		for _, rp := range rt.Partitions {
			p := kmsg.NewDeleteRecordsResponseTopicPartition()
			p.Partition, p.LowWatermark = rp.Partition, -1
			if denied {
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			p.ErrorCode = deleteRecords(e, rt.Topic, rp.Partition, rp.Offset, &p.LowWatermark)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return server.Ready(&server.Response{Msg: resp})
}

func deleteRecords(e *Env, topic string, partition int32, offset int64, low *int64) int16 {
	part, code, _ := e.leaderOf(e.Meta.Image(), topic, partition)
	if part == nil {
		return code
	}
	hw := part.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return kerr.OffsetOutOfRange.Code
	}
	err := part.Log().DeleteRecordsBefore(offset)
	switch {
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case err != nil:
		e.Log.Error("delete records", "topic", topic, "partition", partition, "offset", offset, "err", err)
		return kerr.KafkaStorageError.Code
	}
	*low = part.LogStartOffset()
	return 0
}
