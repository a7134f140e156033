package integration

import (
	"strings"
	"testing"
)

// TestCLIClusterLogDirs checks sluice cluster log-dirs: the directory, its
// disk space, and partition sizes, all topics or only the named ones.
func TestCLIClusterLogDirs(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir)
	topic := topicName(t, "ld")
	cliOK(t, p.addr, "topic", "create", topic, "-p", "2")
	produceToPartitions(t, p.addr, topic, 4, 1)

	var dirs []struct {
		Broker      int32
		Dir         string
		TotalBytes  int64 `json:"total_bytes"`
		UsableBytes int64 `json:"usable_bytes"`
		Partitions  []struct {
			Topic     string
			Partition int32
			Size      int64
		}
	}
	cliJSON(t, p.addr, &dirs, "cluster", "log-dirs", "--topic", topic)
	if len(dirs) != 1 || dirs[0].Broker != 1 || dirs[0].Dir != dir || dirs[0].TotalBytes <= 0 || len(dirs[0].Partitions) != 2 {
		t.Fatalf("log-dirs: %+v (data in %s)", dirs, dir)
	}
	if ps := dirs[0].Partitions; ps[0].Size != 0 || ps[1].Size <= 0 {
		t.Errorf("sizes: %+v", ps)
	}
	out := cliOK(t, p.addr, "cluster", "log-dirs")
	if !strings.HasPrefix(out, "BROKER 1  DIR "+dir+"  TOTAL ") || !hasRow(tableRows(out), "TOPIC", "PARTITION", "SIZE") ||
		!hasRow(tableRows(out), topic, "0", "0") {
		t.Errorf("log-dirs table:\n%s", out)
	}
	cliFails(t, p.addr, "does not exist", "cluster", "log-dirs", "--topic", "no-such")
}
