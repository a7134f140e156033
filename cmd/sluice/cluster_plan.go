package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Reassignment plans for `cluster add-broker` and `cluster decommission`:
// pure functions of the partitions' replica sets and the registered
// brokers (with their racks), so they are tested without a cluster. A
// plan moves one replica at a time to a broker the partition does not
// have, in the replaced replica's position (the first replica is the
// preferred leader, so leadership moves with it), keeping the racks of a
// partition distinct where the brokers allow, as the controller's
// placement does.

// planPartition is one partition's current replicas.
type planPartition struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// planBroker is a registered broker.
type planBroker struct {
	ID   int32
	Rack string
}

// planMove is one partition's new replica list.
type planMove struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs"`
}

// planState counts replicas and preferred leaderships per broker.
type planState struct {
	racks   map[int32]string
	count   map[int32]int
	leaders map[int32]int
}

func newPlanState(parts []planPartition, brokers []planBroker) *planState {
	s := &planState{racks: map[int32]string{}, count: map[int32]int{}, leaders: map[int32]int{}}
	for _, b := range brokers {
		s.racks[b.ID] = b.Rack
		s.count[b.ID] = 0
		s.leaders[b.ID] = 0
	}
	for _, p := range parts {
		for i, r := range p.Replicas {
			if _, ok := s.count[r]; ok {
				s.count[r]++
				if i == 0 {
					s.leaders[r]++
				}
			}
		}
	}
	return s
}

// rackOK reports whether broker b may replace replicas[i] without two
// replicas sharing a rack that did not share one before.
func (s *planState) rackOK(replicas []int32, i int, b int32) bool {
	rack := s.racks[b]
	if rack == "" || rack == s.racks[replicas[i]] {
		return true
	}
	for j, r := range replicas {
		if j != i && s.racks[r] == rack {
			return false
		}
	}
	return true
}

func (s *planState) move(replicas []int32, i int, to int32) {
	from := replicas[i]
	if _, ok := s.count[from]; ok {
		s.count[from]--
		if i == 0 {
			s.leaders[from]--
		}
	}
	s.count[to]++
	if i == 0 {
		s.leaders[to]++
	}
	replicas[i] = to
}

// spreadLeader makes the replica leading fewest partitions the first
// (the preferred leader) of replicas, whose leader was just replaced.
func (s *planState) spreadLeader(replicas []int32) {
	j := 0
	for k, r := range replicas {
		if s.leaders[r] < s.leaders[replicas[j]] {
			j = k
		}
	}
	if j != 0 {
		s.leaders[replicas[0]]--
		s.leaders[replicas[j]]++
		replicas[0], replicas[j] = replicas[j], replicas[0]
	}
}

// planAddBroker moves replicas onto broker add until it holds its share
// of them (the total over the registered brokers, rounded down), each
// taken from the most loaded broker of a partition add is not in, and
// makes it the preferred leader of its share of partitions.
func planAddBroker(parts []planPartition, brokers []planBroker, add int32) ([]planMove, error) {
	if !slices.ContainsFunc(brokers, func(b planBroker) bool { return b.ID == add }) {
		return nil, fmt.Errorf("broker %d is not registered: start it (sluice format, sluice serve) before adding it", add)
	}
	parts = clonePlan(parts)
	s := newPlanState(parts, brokers)
	total := 0
	for _, n := range s.count {
		total += n
	}
	share, leaderShare := total/len(brokers), len(parts)/len(brokers)
	moved := map[int]bool{}
	for s.count[add] < share {
		best, bestPos, bestScore := -1, -1, 0
		for pi, p := range parts {
			if slices.Contains(p.Replicas, add) {
				continue
			}
			for i, r := range p.Replicas {
				n, ok := s.count[r]
				if !ok || n <= s.count[add]+1 || !s.rackOK(p.Replicas, i, add) {
					continue
				}
				// The fullest broker first; then a leader slot while
				// add leads fewer than its share, a follower slot
				// after.
				score := n * 2
				if (i == 0) == (s.leaders[add] < leaderShare) {
					score++
				}
				if score > bestScore {
					best, bestPos, bestScore = pi, i, score
				}
			}
		}
		if best < 0 {
			break
		}
		s.move(parts[best].Replicas, bestPos, add)
		moved[best] = true
	}
	return movesOf(parts, moved), nil
}

// planDecommission moves every replica of broker remove to the broker
// with the fewest replicas among those the partition does not have,
// preferring one on a rack the partition does not use, and for a
// preferred leader the one leading least. A partition with no such
// broker (its replication factor is more than the other brokers) makes
// the whole plan fail: nothing may be left on a decommissioned broker.
// Where the removed broker was the preferred leader, the replica leading
// fewest partitions becomes the first.
func planDecommission(parts []planPartition, brokers []planBroker, remove int32) ([]planMove, error) {
	var others []planBroker
	for _, b := range brokers {
		if b.ID != remove {
			others = append(others, b)
		}
	}
	parts = clonePlan(parts)
	s := newPlanState(parts, others)
	moved := map[int]bool{}
	var stuck []string
	for pi, p := range parts {
		i := slices.Index(p.Replicas, remove)
		if i < 0 {
			continue
		}
		var cands []planBroker
		for _, b := range others {
			if !slices.Contains(p.Replicas, b.ID) {
				cands = append(cands, b)
			}
		}
		if len(cands) == 0 {
			stuck = append(stuck, fmt.Sprintf("%s-%d (replicas %v)", p.Topic, p.Partition, p.Replicas))
			continue
		}
		slices.SortFunc(cands, func(a, b planBroker) int {
			ra, rb := s.rackOK(p.Replicas, i, a.ID), s.rackOK(p.Replicas, i, b.ID)
			if ra != rb {
				if ra {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(s.count[a.ID], s.count[b.ID]); c != 0 {
				return c
			}
			if i == 0 {
				if c := cmp.Compare(s.leaders[a.ID], s.leaders[b.ID]); c != 0 {
					return c
				}
			}
			return cmp.Compare(a.ID, b.ID)
		})
		s.move(p.Replicas, i, cands[0].ID)
		if i == 0 {
			s.spreadLeader(p.Replicas)
		}
		moved[pi] = true
	}
	if len(stuck) > 0 {
		more := ""
		if len(stuck) > 5 {
			more = fmt.Sprintf(" and %d more", len(stuck)-5)
			stuck = stuck[:5]
		}
		return nil, fmt.Errorf("cannot decommission broker %d: %d other registered brokers cannot hold every replica of %s%s "+
			"(lower their replication factor or add a broker first)", remove, len(others), strings.Join(stuck, ", "), more)
	}
	return movesOf(parts, moved), nil
}

func clonePlan(parts []planPartition) []planPartition {
	out := make([]planPartition, len(parts))
	for i, p := range parts {
		out[i] = p
		out[i].Replicas = slices.Clone(p.Replicas)
	}
	slices.SortFunc(out, func(a, b planPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

func movesOf(parts []planPartition, moved map[int]bool) []planMove {
	var out []planMove
	for i, p := range parts {
		if !moved[i] {
			continue
		}
		dirs := make([]string, len(p.Replicas))
		for j := range dirs {
			dirs[j] = "any"
		}
		out = append(out, planMove{Topic: p.Topic, Partition: p.Partition, Replicas: p.Replicas, LogDirs: dirs})
	}
	return out
}

// planInput reads the partitions and registered brokers from Metadata.
func planInput(md *kmsg.MetadataResponse) ([]planPartition, []planBroker, error) {
	var brokers []planBroker
	for _, b := range md.Brokers {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		brokers = append(brokers, planBroker{ID: b.NodeID, Rack: rack})
	}
	var parts []planPartition
	for _, t := range md.Topics {
		if t.Topic == nil {
			continue
		}
		if t.ErrorCode != 0 {
			return nil, nil, fmt.Errorf("topic %s: error code %d in the metadata", *t.Topic, t.ErrorCode)
		}
		for _, p := range t.Partitions {
			parts = append(parts, planPartition{Topic: *t.Topic, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	return parts, brokers, nil
}

// planner computes the moves for one broker id.
type planner func(parts []planPartition, brokers []planBroker, id int32) ([]planMove, error)

// planCmd is `cluster add-broker` and `cluster decommission`: read the
// metadata, plan, then print the plan (--dry-run) or run it as `topic
// reassign` runs one (reassignRun: throttles, progress, --wait).
func planCmd(cf *clientFlags, cmd *cobra.Command, plan planner) *cobra.Command {
	var (
		broker   int32
		dryRun   bool
		wait     bool
		interval time.Duration
		throttle int64
		preserve bool
	)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if broker < 0 {
			return fmt.Errorf("give --broker")
		}
		cl, ctx, done, err := cf.client(cmd.Context())
		if err != nil {
			return err
		}
		defer done()
		md, err := freshMetadata(ctx, cl, nil)
		if err != nil {
			return cf.clientErr(ctx, "cluster metadata", err)
		}
		parts, brokers, err := planInput(md)
		if err != nil {
			return err
		}
		moves, err := plan(parts, brokers, broker)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if dryRun {
			return printJSON(out, map[string]any{"version": 1, "partitions": movesOrEmpty(moves)})
		}
		if len(moves) == 0 {
			fmt.Fprintln(out, "Nothing to move.")
			return nil
		}
		req := kadm.AlterPartitionAssignmentsReq{}
		set := kadm.TopicsSet{}
		for _, m := range moves {
			req.Assign(m.Topic, m.Partition, m.Replicas)
			set.Add(m.Topic, m.Partition)
		}
		run := reassignRun{req: req, set: set, verify: true, wait: wait, interval: interval,
			throttle: throttle, preserveThrottles: preserve}
		return run.run(ctx, cf, cl, out)
	}
	f := cmd.Flags()
	f.Int32Var(&broker, "broker", -1, "the broker id")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan as a kafka-reassign-partitions JSON file and change nothing")
	f.BoolVar(&wait, "wait", false, "print the progress until every reassignment is complete")
	f.DurationVar(&interval, "interval", time.Second, "how often --wait polls")
	addThrottleFlags(f, &throttle, &preserve)
	return cmd
}

func movesOrEmpty(m []planMove) []planMove {
	if m == nil {
		return []planMove{}
	}
	return m
}
