package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignPlan is kafka-reassign-partitions' --reassignment-json-file
// format: {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3]}]}.
type reassignPlan struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Replicas  []int32 `json:"replicas"`
	} `json:"partitions"`
}

// reassignState is one partition's progress, as printed.
type reassignState struct {
	Topic     string           `json:"topic"`
	Partition int32            `json:"partition"`
	Leader    int32            `json:"leader"`
	Replicas  []int32          `json:"replicas"`
	ISR       []int32          `json:"isr"`
	Adding    []int32          `json:"adding"`
	Removing  []int32          `json:"removing"`
	LagBytes  map[string]int64 `json:"adding_lag_bytes,omitempty"` // broker id -> leader size minus replica size
	Complete  bool             `json:"complete"`
}

func topicReassignCmd(cf *clientFlags) *cobra.Command {
	var (
		topic      string
		partitions []int32
		replicas   string
		file       string
		cancel     bool
		verify     bool
		wait       bool
		interval   time.Duration
		throttle   int64
		preserve   bool
	)
	cmd := &cobra.Command{
		Use:   "reassign",
		Short: "Move partitions to other brokers (AlterPartitionReassignments) and show their progress",
		Long: `Start, cancel or follow partition reassignments.

Start one with --topic, --partition and --replicas (the target brokers, the
first preferred as leader), or with --reassignment-json-file in
kafka-reassign-partitions' format. The brokers being added copy the
partition from its leader; once all are in sync the controller makes the
target the replica set and the removed brokers delete their copy.
--verify prints each partition's replicas, adding and removing brokers,
ISR and how far (in bytes of log) each adding replica is behind the
leader, or "complete"; --wait polls until every partition is complete.
--cancel reverts ongoing reassignments to the original replicas.

--throttle BYTES limits the copy to BYTES/s, as kafka-reassign-partitions
does: the moving partitions' current replicas are named in their topic's
leader.replication.throttled.replicas, the added ones in
follower.replication.throttled.replicas, and every broker involved gets
leader.replication.throttled.rate and follower.replication.throttled.rate.
In-sync replicas are never held back. --verify (or --wait) removes the
throttles from every broker and the topics once every partition is
complete, unless --preserve-throttles; --cancel removes them at once.`,
		Example: `  sluice topic reassign --topic orders --partition 0 --replicas 2,3 --wait
  sluice topic reassign --topic orders --partition 0 --replicas 2,3 --throttle 10000000
  sluice topic reassign --reassignment-json-file plan.json
  sluice topic reassign --topic orders --partition 0 --verify
  sluice topic reassign --topic orders --partition 0 --cancel`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := kadm.AlterPartitionAssignmentsReq{}
			set := kadm.TopicsSet{}
			switch {
			case file != "":
				plan, err := readReassignPlan(file)
				if err != nil {
					return err
				}
				for _, p := range plan.Partitions {
					req.Assign(p.Topic, p.Partition, p.Replicas)
					set.Add(p.Topic, p.Partition)
				}
			case topic != "":
				if len(partitions) == 0 {
					return fmt.Errorf("--topic needs --partition")
				}
				var target []int32
				if replicas != "" {
					var err error
					if target, err = parseBrokerList(replicas); err != nil {
						return err
					}
				}
				for _, p := range partitions {
					set.Add(topic, p)
					switch {
					case cancel:
						req.CancelAssign(topic, p)
					case target != nil:
						req.Assign(topic, p, target)
					}
				}
			default:
				return fmt.Errorf("give --topic and --partition, or --reassignment-json-file")
			}
			if !cancel && replicas == "" && file == "" && !verify && !wait {
				return fmt.Errorf("nothing to do: give --replicas, --cancel, --verify or --wait")
			}
			if !cancel && replicas == "" && file == "" {
				req = nil
			}
			cl, ctx, done, err := cf.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			run := reassignRun{req: req, set: set, cancel: cancel, verify: verify, wait: wait, interval: interval,
				throttle: throttle, preserveThrottles: preserve}
			return run.run(ctx, cf, cl, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&topic, "topic", "t", "", "topic to reassign")
	f.Int32SliceVarP(&partitions, "partition", "p", nil, "partitions of --topic (repeatable or comma separated)")
	f.StringVar(&replicas, "replicas", "", "target broker ids, comma separated (the first is the preferred leader)")
	f.StringVar(&file, "reassignment-json-file", "", "kafka-reassign-partitions plan `file` (- for stdin)")
	f.BoolVar(&cancel, "cancel", false, "cancel the ongoing reassignments of the partitions")
	f.BoolVar(&verify, "verify", false, "print the progress of the partitions' reassignments")
	f.BoolVar(&wait, "wait", false, "print the progress until every reassignment is complete")
	f.DurationVar(&interval, "interval", time.Second, "how often --wait polls")
	addThrottleFlags(f, &throttle, &preserve)
	return cmd
}

func readReassignPlan(path string) (*reassignPlan, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	var plan reassignPlan
	if err := json.NewDecoder(r).Decode(&plan); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(plan.Partitions) == 0 {
		return nil, fmt.Errorf("%s: no partitions", path)
	}
	return &plan, nil
}

func parseBrokerList(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--replicas %q: want broker ids like 1,2,3", s)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// reassignProgress reads the partitions' state: ongoing reassignments
// (ListPartitionReassignments), leader and ISR (Metadata) and, for
// adding replicas, how much smaller their log is than the leader's
// (DescribeLogDirs; a follower's end offset is not on the wire). A
// partition whose target this run set is complete only once the broker
// answering Metadata shows it too (it may lag the controller).
func reassignProgress(ctx context.Context, cl *kgo.Client, set kadm.TopicsSet, targets kadm.AlterPartitionAssignmentsReq) ([]reassignState, error) {
	adm := kadm.NewClient(cl)
	ongoing, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return nil, err
	}
	// A fresh Metadata request, not kadm's (cached for seconds).
	mreq := kmsg.NewPtrMetadataRequest()
	for _, t := range set.Topics() {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		mreq.Topics = append(mreq.Topics, rt)
	}
	md, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	parts := map[string]map[int32]kmsg.MetadataResponseTopicPartition{}
	for _, t := range md.Topics {
		if t.Topic == nil {
			continue
		}
		parts[*t.Topic] = map[int32]kmsg.MetadataResponseTopicPartition{}
		for _, p := range t.Partitions {
			parts[*t.Topic][p.Partition] = p
		}
	}
	var sizes kadm.DescribedAllLogDirs
	if len(ongoing) > 0 {
		sizes, _ = adm.DescribeAllLogDirs(ctx, set) // best effort: lag is advisory
	}
	size := func(broker int32, t string, p int32) (int64, bool) {
		var n int64 = -1
		for _, d := range sizes[broker] {
			if dp, ok := d.Topics[t][p]; ok {
				n = max(n, dp.Size)
			}
		}
		return n, n >= 0
	}
	var out []reassignState
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			s := reassignState{Topic: tp.Topic, Partition: p, Leader: -1, Complete: true}
			if pd, ok := parts[tp.Topic][p]; ok {
				s.Leader, s.Replicas, s.ISR = pd.Leader, pd.Replicas, pd.ISR
			}
			if target := targets[tp.Topic][p]; target != nil && !slices.Equal(target, s.Replicas) {
				s.Complete = false
			}
			if r, ok := ongoing[tp.Topic][p]; ok {
				s.Complete, s.Replicas, s.Adding, s.Removing = false, r.Replicas, r.AddingReplicas, r.RemovingReplicas
				if ls, ok := size(s.Leader, tp.Topic, p); ok {
					for _, b := range r.AddingReplicas {
						if rs, ok := size(b, tp.Topic, p); ok {
							if s.LagBytes == nil {
								s.LagBytes = map[string]int64{}
							}
							s.LagBytes[strconv.Itoa(int(b))] = max(0, ls-rs)
						}
					}
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func printReassign(w io.Writer, asJSON bool, states []reassignState) error {
	if asJSON {
		return printJSON(w, map[string]any{"partitions": states})
	}
	for _, s := range states {
		if s.Complete {
			fmt.Fprintf(w, "%s-%d: complete: replicas %v isr %v leader %d\n", s.Topic, s.Partition, s.Replicas, s.ISR, s.Leader)
			continue
		}
		fmt.Fprintf(w, "%s-%d: in progress: replicas %v adding %v removing %v isr %v leader %d",
			s.Topic, s.Partition, s.Replicas, s.Adding, s.Removing, s.ISR, s.Leader)
		for _, b := range s.Adding {
			if lag, ok := s.LagBytes[strconv.Itoa(int(b))]; ok {
				fmt.Fprintf(w, " broker %d behind %d bytes", b, lag)
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// addThrottleFlags registers --throttle and --preserve-throttles.
func addThrottleFlags(f *pflag.FlagSet, throttle *int64, preserve *bool) {
	f.Int64Var(throttle, "throttle", -1, "replication throttle in bytes/s for the moves (-1: none), as kafka-reassign-partitions --throttle")
	f.BoolVar(preserve, "preserve-throttles", false, "keep the throttles once the reassignment is complete (--verify, --wait)")
}
