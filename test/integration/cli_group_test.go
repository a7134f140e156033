package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCLIGroupList: `sluice group list` as a table and as JSON, with the
// brokers from --brokers or from SLUICE_BROKERS.
func TestCLIGroupList(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-cli-list"
	createTopic(t, adm, topic, 2, nil)
	m := startGroupMember(t, tb.Addr(), group, "cli-member", []string{topic})
	waitBalanced(t, adm, group, topic, 2, m)

	var listed []cliListed
	cliJSON(t, tb.Addr(), &listed, "group", "list")
	if len(listed) != 1 || listed[0] != (cliListed{group, "Stable", "consumer", 1}) {
		t.Errorf("group list JSON: %+v, want %s Stable consumer 1 member", listed, group)
	}

	r := runCLI(t, []string{"SLUICE_BROKERS=" + tb.Addr()}, "group", "list")
	rows := tableRows(r.stdout)
	if r.code != 0 || !slices.Equal(rows[0], []string{"GROUP", "TYPE", "STATE", "PROTOCOL-TYPE", "MEMBERS"}) || !hasRow(rows, group, "classic", "Stable", "consumer", "1") {
		t.Errorf("group list with SLUICE_BROKERS: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	m.Close()
	cliJSON(t, tb.Addr(), &listed, "group", "list", "--state", "Stable")
	if len(listed) != 0 {
		t.Errorf("group list --state Stable after the member left: %+v", listed)
	}
	cliJSON(t, tb.Addr(), &listed, "group", "list")
	if len(listed) != 1 || listed[0].State != "Empty" || listed[0].Members != 0 {
		t.Errorf("group list after the member left: %+v, want one Empty group", listed)
	}

	r = runCLI(t, nil, "group", "list", "--brokers", "127.0.0.1:1", "--timeout", "3s")
	if msg := strings.TrimSpace(r.stderr); r.code == 0 || msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("group list against nothing: exit %d, stderr %q; want non-zero and one line", r.code, r.stderr)
	}
	cliFails(t, tb.Addr(), "format", "group", "list", "--format", "yaml")
}

// TestCLIGroupDescribeResetDelete: describe shows members, assignments,
// committed and end offsets, lag and owners; reset-offsets and delete are
// refused while the group has members and work once it is empty.
func TestCLIGroupDescribeResetDelete(t *testing.T) {
	tb := startGroupBroker(t)
	addr := tb.Addr()
	adm := newAdmin(t, addr)
	topic, group := topicName(t, ""), "g-cli"
	createTopic(t, adm, topic, 2, nil)
	produceToPartitions(t, addr, topic, 5, 0, 1)
	m := startGroupMember(t, addr, group, "cli-member", []string{topic}, committingEachPoll())
	waitBalanced(t, adm, group, topic, 2, m)
	waitCommittedAtEnd(t, adm, group, topic)
	memberID, _ := m.cl.GroupMetadata()

	var d cliDescribed
	cliJSON(t, addr, &d, "group", "describe", group)
	if d.State != "Stable" || d.ProtocolType != "consumer" || len(d.Members) != 1 || len(d.Partitions) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	if mem := d.Members[0]; mem.MemberID != memberID || mem.ClientID != "cli-member" || mem.Host == "" ||
		len(mem.Assignments) != 1 || mem.Assignments[0].Topic != topic || !slices.Equal(mem.Assignments[0].Partitions, []int32{0, 1}) {
		t.Errorf("describe member: %+v, want %s (cli-member) assigned %s 0,1", mem, memberID, topic)
	}
	for i, p := range d.Partitions {
		if p.Topic != topic || p.Partition != int32(i) || !ptrIs(p.Committed, 5) || p.End != 5 || !ptrIs(p.Lag, 0) || p.Owner != memberID {
			t.Errorf("describe partition %d: %+v, want committed 5 end 5 lag 0 owner %s", i, p, memberID)
		}
	}
	rows := tableRows(cliOK(t, addr, "group", "describe", group))
	if !slices.Equal(rows[0], []string{"GROUP", "TYPE", "STATE", "PROTOCOL-TYPE", "PROTOCOL", "EPOCH", "MEMBERS"}) ||
		!hasRow(rows, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER") ||
		!hasRow(rows, topic, "1", "5", "5", "0", memberID) {
		t.Errorf("describe table:\n%v", rows)
	}

	cliFails(t, addr, "not empty", "group", "reset-offsets", group, "--topic", topic, "--to-earliest")
	cliFails(t, addr, "NON_EMPTY_GROUP", "group", "delete", group)

	m.Close()
	produceToPartitions(t, addr, topic, 3, 0)
	cliJSON(t, addr, &d, "group", "describe", group)
	if d.State != "Empty" || len(d.Members) != 0 || len(d.Partitions) != 2 {
		t.Fatalf("describe after the member left: %+v", d)
	}
	if p := d.Partitions[0]; !ptrIs(p.Committed, 5) || p.End != 8 || !ptrIs(p.Lag, 3) || p.Owner != "" {
		t.Errorf("describe partition 0 after 3 more records: %+v, want committed 5 end 8 lag 3 no owner", p)
	}

	committed := func() [2]int64 {
		t.Helper()
		got, err := committedOffsets(testCtx(t, 10*time.Second), adm, group, topic)
		if err != nil {
			t.Fatal(err)
		}
		return [2]int64{got[0].At, got[1].At}
	}
	reset := func(args ...string) cliReset {
		t.Helper()
		var r cliReset
		cliJSON(t, addr, &r, append([]string{"group", "reset-offsets", group, "--topic", topic}, args...)...)
		return r
	}
	r := reset("--to-earliest", "--dry-run")
	if !r.DryRun || len(r.Offsets) != 2 || !ptrIs(r.Offsets[0].Previous, 5) || r.Offsets[0].New != 0 || r.Offsets[1].New != 0 {
		t.Errorf("dry run: %+v", r)
	}
	if got := committed(); got != [2]int64{5, 5} {
		t.Errorf("after a dry run committed %v, want unchanged [5 5]", got)
	}
	if r = reset("--to-offset", "2", "--partitions", "1"); len(r.Offsets) != 1 || r.Offsets[0].Partition != 1 || r.Offsets[0].New != 2 {
		t.Errorf("--to-offset 2 --partitions 1: %+v", r)
	}
	if got := committed(); got != [2]int64{5, 2} {
		t.Errorf("after --to-offset 2 on partition 1: committed %v, want [5 2]", got)
	}
	reset("--to-offset", "100") // clamped to the end offsets
	if got := committed(); got != [2]int64{8, 5} {
		t.Errorf("after --to-offset 100: committed %v, want the ends [8 5]", got)
	}
	rows = tableRows(cliOK(t, addr, "group", "reset-offsets", group, "--topic", topic, "--to-earliest"))
	if !slices.Equal(rows[0], []string{"GROUP", "TOPIC", "PARTITION", "PREVIOUS-OFFSET", "NEW-OFFSET"}) || !hasRow(rows, group, topic, "0", "8", "0") {
		t.Errorf("reset table:\n%v", rows)
	}
	if got := committed(); got != [2]int64{0, 0} {
		t.Errorf("after --to-earliest: committed %v", got)
	}
	reset("--to-latest")
	if got := committed(); got != [2]int64{8, 5} {
		t.Errorf("after --to-latest: committed %v", got)
	}

	cliFails(t, addr, "exactly one", "group", "reset-offsets", group, "--topic", topic, "--to-earliest", "--to-latest")
	cliFails(t, addr, "--topic", "group", "reset-offsets", group, "--to-earliest")
	cliFails(t, addr, "does not exist", "group", "reset-offsets", group, "--topic", "no-such-topic", "--to-earliest")
	cliFails(t, addr, "no partition 9", "group", "reset-offsets", group, "--topic", topic, "--partitions", "9", "--to-earliest")
	cliFails(t, addr, "--to-datetime", "group", "reset-offsets", group, "--topic", topic, "--to-datetime", "yesterday")

	out := cliOK(t, addr, "group", "delete", group)
	if !strings.Contains(out, "Deleted group "+group) {
		t.Errorf("delete: %q", out)
	}
	cliFails(t, addr, "GROUP_ID_NOT_FOUND", "group", "delete", group)
	cliFails(t, addr, "does not exist", "group", "describe", group)
	var listed []cliListed
	cliJSON(t, addr, &listed, "group", "list")
	if len(listed) != 0 {
		t.Errorf("group list after delete: %+v", listed)
	}
}

// TestCLIGroupResetToDatetime: --to-datetime moves each partition to its
// first record at or after the time, or to the end after the last record.
func TestCLIGroupResetToDatetime(t *testing.T) {
	tb := startGroupBroker(t)
	addr := tb.Addr()
	adm := newAdmin(t, addr)
	topic, group := topicName(t, ""), "g-cli-time"
	createTopic(t, adm, topic, 1, nil)
	base := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	var rs []*kgo.Record
	for i := range 10 {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	produceSync(t, newClient(t, addr), rs...)

	for _, tc := range []struct {
		at   string
		want int64
	}{
		{"2024-01-02T15:02:30Z", 3},
		{"2024-01-02T15:02:00Z", 2},
		{"2024-01-02T17:02:00+02:00", 2},
		{"2024-01-02T15:02:00.001", 3},
		{"2020-01-01T00:00:00Z", 0},
		{"2030-01-01T00:00:00Z", 10},
	} {
		var r cliReset
		cliJSON(t, addr, &r, "group", "reset-offsets", group, "--topic", topic, "--to-datetime", tc.at)
		if len(r.Offsets) != 1 || r.Offsets[0].New != tc.want {
			t.Errorf("--to-datetime %s: %+v, want offset %d", tc.at, r, tc.want)
		}
		got, err := committedOffsets(testCtx(t, 10*time.Second), adm, group, topic)
		if err != nil || got[0].At != tc.want {
			t.Errorf("--to-datetime %s: committed %v (%v), want %d", tc.at, got[0].At, err, tc.want)
		}
	}
}
