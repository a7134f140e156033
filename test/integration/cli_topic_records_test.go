package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestCLITopicOffsetsAndDeleteRecords checks sluice topic offsets (with a
// time) and delete-records.
func TestCLITopicOffsetsAndDeleteRecords(t *testing.T) {
	p := startProc(t, t.TempDir())
	topic := topicName(t, "recs")
	cliOK(t, p.addr, "topic", "create", topic, "-p", "2")
	produceToPartitions(t, p.addr, topic, 5, 0, 1)

	type row struct {
		Partition      int32
		Start, End     int64
		AtTime         *int64 `json:"at_time"`
		LogStartOffset int64  `json:"log_start_offset"`
	}
	var rows []row
	cliJSON(t, p.addr, &rows, "topic", "offsets", topic, "--time", "0")
	if len(rows) != 2 || rows[0].Start != 0 || rows[0].End != 5 || rows[0].AtTime == nil || *rows[0].AtTime != 0 {
		t.Fatalf("offsets: %+v", rows)
	}
	rows = nil
	cliJSON(t, p.addr, &rows, "topic", "offsets", topic, "--time", strconv.FormatInt(1<<50, 10))
	if rows[1].AtTime == nil || *rows[1].AtTime != 5 { // no record that recent: the end
		t.Errorf("offsets in the far future: %+v", rows)
	}
	if out := cliOK(t, p.addr, "topic", "offsets", topic); !strings.HasPrefix(out, "PARTITION  START  END\n0          0      5\n") {
		t.Errorf("offsets table:\n%s", out)
	}

	rows = nil
	cliJSON(t, p.addr, &rows, "topic", "delete-records", topic, "--before", "3", "-p", "0")
	if len(rows) != 1 || rows[0].Partition != 0 || rows[0].LogStartOffset != 3 {
		t.Errorf("delete-records: %+v", rows)
	}
	if out := cliOK(t, p.addr, "topic", "delete-records", topic, "--before", "-1"); !hasRow(tableRows(out), "1", "5") {
		t.Errorf("delete-records to the end:\n%s", out)
	}
	rows = nil
	cliJSON(t, p.addr, &rows, "topic", "offsets", topic)
	if rows[0].Start != 5 || rows[1].Start != 5 {
		t.Errorf("after delete-records: %+v", rows)
	}
	cliFails(t, p.addr, "OFFSET_OUT_OF_RANGE", "topic", "delete-records", topic, "--before", "99")
	cliFails(t, p.addr, "does not exist", "topic", "delete-records", "no-such", "--before", "1")
}
