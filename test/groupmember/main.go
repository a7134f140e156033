// Command groupmember is a consumer-group member for Sluice's integration
// tests that must crash a consumer for real (SIGKILL, no LeaveGroup, no
// last commit). It joins -group, consumes -topic from the earliest offset
// where the group has no commit, and prints one line per event on stdout:
//
//	assigned <topic> <p,p,...>
//	revoked <topic> <p,p,...>
//	rec <partition> <offset> <value>        a record it processed
//	committed <partition> <next offset>     an offset commit that succeeded
//
// -commit chooses when it commits (it never autocommits):
//
//	never   never
//	once    once, right after processing the -n'th record
//	before  each poll's records before processing them (at most once)
//	after   each poll's records after processing all of them (at least once)
//
// -crash-after K makes it SIGKILL itself right after processing the K'th
// record (0: never).
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed brokers, comma separated")
	group := flag.String("group", "", "consumer group")
	topic := flag.String("topic", "", "topic to consume")
	commit := flag.String("commit", "never", "never, once, before or after")
	n := flag.Int("n", 0, "with -commit once: commit after this many processed records")
	crashAfter := flag.Int("crash-after", 0, "SIGKILL itself after processing this many records (0: never)")
	session := flag.Duration("session-timeout", 6*time.Second, "group session timeout")
	flag.Parse()
	if *group == "" || *topic == "" {
		fail(fmt.Errorf("-group and -topic are required"))
	}
	switch *commit {
	case "never", "once", "before", "after":
	default:
		fail(fmt.Errorf("-commit %q: want never, once, before or after", *commit))
	}

	printParts := func(what string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			for t, ps := range m {
				slices.Sort(ps)
				s := make([]string, len(ps))
				for i, p := range ps {
					s[i] = strconv.Itoa(int(p))
				}
				fmt.Printf("%s %s %s\n", what, t, strings.Join(s, ","))
			}
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ClientID("groupmember"),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(*session),
		kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(printParts("assigned")),
		kgo.OnPartitionsRevoked(printParts("revoked")),
		kgo.OnPartitionsLost(printParts("revoked")),
	)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	processed := 0
	var done []*kgo.Record // processed records, for -commit once
	for {
		fs := cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if len(recs) == 0 {
			continue
		}
		if *commit == "before" {
			commitRecords(ctx, cl, recs)
		}
		for _, r := range recs {
			fmt.Printf("rec %d %d %s\n", r.Partition, r.Offset, r.Value)
			processed++
			done = append(done, r)
			if *commit == "once" && processed == *n {
				commitRecords(ctx, cl, done)
			}
			if processed == *crashAfter {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal ends the process
			}
		}
		if *commit == "after" {
			commitRecords(ctx, cl, recs)
		}
	}
}

// commitRecords commits past rs and prints what was committed.
func commitRecords(ctx context.Context, cl *kgo.Client, rs []*kgo.Record) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.CommitRecords(ctx, rs...); err != nil {
		fmt.Fprintln(os.Stderr, "commit:", err)
		return
	}
	next := map[int32]int64{}
	for _, r := range rs {
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
	}
	for _, p := range slices.Sorted(maps.Keys(next)) {
		fmt.Printf("committed %d %d\n", p, next[p])
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "groupmember:", err)
	os.Exit(2)
}
