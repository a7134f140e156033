package integration

import (
	"regexp"
	"strings"
	"testing"
)

type cliTopicDesc struct {
	Topic      string
	ID         string
	Internal   bool
	Partitions []struct {
		Partition   int32
		Leader      int32
		Replicas    []int32
		ISR         []int32
		StartOffset int64 `json:"start_offset"`
		EndOffset   int64 `json:"end_offset"`
	}
	Configs []struct {
		Name   string
		Value  *string
		Source string
	}
}

func (d *cliTopicDesc) config(name string) (value, source string, ok bool) {
	for _, c := range d.Configs {
		if c.Name == name {
			v := ""
			if c.Value != nil {
				v = *c.Value
			}
			return v, c.Source, true
		}
	}
	return "", "", false
}

// TestCLITopicLifecycle drives sluice topic create, list, describe,
// alter-config, add-partitions and delete against a broker process.
func TestCLITopicLifecycle(t *testing.T) {
	p := startProc(t, t.TempDir())
	topic := topicName(t, "cli")

	out := cliOK(t, p.addr, "topic", "create", topic, "-p", "2", "-c", "retention.ms=3600000")
	rows := tableRows(out)
	if strings.Join(rows[0], " ") != "TOPIC ID PARTITIONS REPLICATION-FACTOR STATUS" || rows[1][0] != topic || rows[1][2] != "2" {
		t.Fatalf("create output:\n%s", out)
	}

	var listed []struct {
		Topic      string
		Partitions int
	}
	cliJSON(t, p.addr, &listed, "topic", "list")
	if len(listed) != 1 || listed[0].Topic != topic || listed[0].Partitions != 2 {
		t.Fatalf("list: %+v", listed)
	}
	if out := cliOK(t, p.addr, "topic", "list"); !strings.HasPrefix(out, "TOPIC") || !strings.Contains(out, topic) {
		t.Fatalf("list table:\n%s", out)
	}

	produceToPartitions(t, p.addr, topic, 3, 0, 1)
	var d cliTopicDesc
	cliJSON(t, p.addr, &d, "topic", "describe", topic)
	if d.Topic != topic || len(d.Partitions) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	for _, pd := range d.Partitions {
		if pd.Leader != 1 || len(pd.Replicas) != 1 || len(pd.ISR) != 1 || pd.StartOffset != 0 || pd.EndOffset != 3 {
			t.Errorf("partition %+v: want leader 1, one replica in ISR, offsets 0..3", pd)
		}
	}
	if v, src, _ := d.config("retention.ms"); v != "3600000" || src != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms = %q from %s", v, src)
	}
	if _, src, _ := d.config("segment.bytes"); src != "DEFAULT_CONFIG" && src != "STATIC_BROKER_CONFIG" {
		t.Errorf("segment.bytes source %s", src)
	}
	table := cliOK(t, p.addr, "topic", "describe", topic)
	if !regexp.MustCompile(`PARTITION +LEADER +EPOCH +REPLICAS +ISR +ELR +LAST-KNOWN-ELR +OFFLINE +START-OFFSET +END-OFFSET +STATUS\n0 +1 +0 +\[1\] +\[1\] +\[\] +\[\] +- +0 +[0-9]+ +ok\n`).MatchString(table) {
		t.Errorf("describe table's partitions:\n%s", table)
	}
	for _, want := range []string{"TOPIC        " + topic, "CONFIG ", "retention.ms", "DYNAMIC_TOPIC_CONFIG"} {
		if !strings.Contains(table, want) {
			t.Errorf("describe table lacks %q:\n%s", want, table)
		}
	}

	cliOK(t, p.addr, "topic", "alter-config", topic, "--set", "retention.ms=60000", "--set", "cleanup.policy=compact", "--delete", "segment.ms")
	cliOK(t, p.addr, "topic", "alter-config", topic, "--append", "cleanup.policy=delete")
	d = cliTopicDesc{}
	cliJSON(t, p.addr, &d, "topic", "describe", topic, "--overrides")
	if v, _, _ := d.config("retention.ms"); v != "60000" {
		t.Errorf("after alter: retention.ms %q", v)
	}
	if v, _, _ := d.config("cleanup.policy"); v != "compact,delete" {
		t.Errorf("after append: cleanup.policy %q", v)
	}
	cliOK(t, p.addr, "topic", "alter-config", topic, "--set", "retention.ms=1", "--dry-run")
	d = cliTopicDesc{}
	cliJSON(t, p.addr, &d, "topic", "describe", topic)
	if v, _, _ := d.config("retention.ms"); v != "60000" {
		t.Errorf("dry run changed retention.ms to %q", v)
	}
	cliFails(t, p.addr, "INVALID_CONFIG", "topic", "alter-config", topic, "--set", "retention.ms=abc")
	cliFails(t, p.addr, "Unknown topic config name: no.such", "topic", "alter-config", topic, "--set", "no.such=1")

	if out := cliOK(t, p.addr, "topic", "add-partitions", topic, "--total", "4"); !strings.Contains(out, "now has 4 partitions") {
		t.Errorf("add-partitions: %s", out)
	}
	cliOK(t, p.addr, "topic", "add-partitions", topic, "--num", "1")
	d = cliTopicDesc{}
	cliJSON(t, p.addr, &d, "topic", "describe", topic)
	if len(d.Partitions) != 5 {
		t.Errorf("after add-partitions: %d partitions", len(d.Partitions))
	}
	cliFails(t, p.addr, "INVALID_PARTITIONS", "topic", "add-partitions", topic, "--total", "2")
	cliFails(t, p.addr, "TOPIC_ALREADY_EXISTS", "topic", "create", topic)

	if out := cliOK(t, p.addr, "topic", "delete", topic); !strings.Contains(out, "Deleted topic "+topic) {
		t.Errorf("delete: %s", out)
	}
	cliFails(t, p.addr, "UNKNOWN_TOPIC_OR_PARTITION", "topic", "describe", topic)
	cliFails(t, p.addr, "UNKNOWN_TOPIC_OR_PARTITION", "topic", "delete", topic)
}

// TestCLIBadInput checks flag and argument errors fail at once, with one
// line, before any network work.
func TestCLIBadInput(t *testing.T) {
	const nowhere = "127.0.0.1:1"
	cliFails(t, nowhere, "unknown --format", "topic", "list", "--format", "yaml")
	cliFails(t, nowhere, "want key=value", "topic", "create", "x", "-c", "retention.ms")
	cliFails(t, nowhere, "nothing to change", "topic", "alter-config", "x")
	cliFails(t, nowhere, "exactly one of --num", "topic", "add-partitions", "x")
	cliFails(t, nowhere, "accepts 1 arg", "topic", "describe")
	cliFails(t, nowhere, "unknown flag", "topic", "list", "--nope")
	cliFails(t, nowhere, "unknown --compression", "produce", "x", "--compression", "brotli")
	cliFails(t, nowhere, "unknown --acks", "produce", "x", "--acks", "2")
	cliFails(t, nowhere, "--from", "consume", "x", "--from", "yesterday")
	cliFails(t, nowhere, "unknown verb", "consume", "x", "--format", "%q")
	cliFails(t, nowhere, "cannot be used with --group", "consume", "x", "--group", "g", "--partition", "0")
}
