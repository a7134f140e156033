package api

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(35, 0, 4, handleDescribeLogDirs) }

// handleDescribeLogDirs reports the size of every hosted partition (or of
// the requested ones) in the broker's log directory. Sluice uses only the
// first entry of log.dirs, so there is one directory. Its error code is
// KAFKA_STORAGE_ERROR while it is offline (a write or fsync failed; Kafka's
// offline log dir) and while the scrubber knows of a damaged batch in one
// of its partitions: the response has no per-partition error, and a
// directory that lost data is one a client should not trust. Unlike Kafka,
// which lists no partitions for an offline directory, the partitions and
// sizes are still listed: they are on disk and come back without a restart.
func handleDescribeLogDirs(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeLogDirsRequest)
	resp := kmsg.NewPtrDescribeLogDirsResponse()
	if !authorizer(e, req).cluster(auth.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = strings.Split(e.Cfg.LogDirs, ",")[0]
	if abs, err := filepath.Abs(dir.Dir); err == nil {
		dir.Dir = abs
	}
	dir.TotalBytes, dir.UsableBytes = -1, -1
	var st syscall.Statfs_t
	if syscall.Statfs(dir.Dir, &st) == nil {
		dir.TotalBytes = int64(st.Blocks) * int64(st.Bsize)
		dir.UsableBytes = int64(st.Bavail) * int64(st.Bsize)
	}
	if e.Parts.DirError() != nil {
		dir.ErrorCode = kerr.KafkaStorageError.Code
	}
	want := map[string]map[int32]bool{} // nil Topics: everything
	for _, t := range r.Topics {
		m := want[t.Topic]
		if m == nil {
			m = map[int32]bool{}
			want[t.Topic] = m
		}
		for _, p := range t.Partitions {
			m[p] = true
		}
	}
	byTopic := map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	for _, p := range e.Parts.All() {
		if r.Topics != nil && !want[p.Topic][p.Index] {
			continue
		}
		dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		dp.Partition, dp.Size = p.Index, p.Log().Size()
		byTopic[p.Topic] = append(byTopic[p.Topic], dp)
	}
	names := make([]string, 0, len(byTopic))
	for n := range byTopic {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := kmsg.NewDescribeLogDirsResponseDirTopic()
		t.Topic, t.Partitions = n, byTopic[n]
		slices.SortFunc(t.Partitions, func(a, b kmsg.DescribeLogDirsResponseDirTopicPartition) int { return int(a.Partition - b.Partition) })
		dir.Topics = append(dir.Topics, t)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return server.Ready(&server.Response{Msg: resp})
}
