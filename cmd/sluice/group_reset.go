package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// resetRow is one partition of a reset plan.
type resetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Previous  *int64 `json:"previous"` // null when nothing was committed
	New       int64  `json:"new"`
}

type resetResult struct {
	Group string `json:"group"`
	// Share is set when GROUP is a share group: the offsets are its
	// share-partition start offsets (Previous is null for a
	// share-partition without state).
	Share   bool       `json:"share"`
	DryRun  bool       `json:"dry_run"`
	Offsets []resetRow `json:"offsets"`
}

// resetTarget says where to move the offsets.
type resetTarget struct {
	earliest, latest bool
	offset           int64
	hasOffset        bool
	datetime         string
}

func groupResetCmd(cf *clientFlags) *cobra.Command {
	var (
		topic      string
		partitions []int
		target     resetTarget
		dryRun     bool
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --topic T (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME)",
		Short: "Move an inactive group's committed offsets (share group: start offsets) on a topic",
		Long: `Move the committed offsets of GROUP on one topic (all its partitions, or
those given with --partitions). As with Kafka, the group must have no
active members: stop its consumers first.

For a share group (KIP-932) it moves the share-partition start offsets
instead (AlterShareGroupOffsets, as kafka-share-groups.sh --reset-offsets):
the group's consumers then get the records from there on. The broker
refuses while the group has members (NON_EMPTY_GROUP). A group that does
not exist yet is taken as a consumer group.

--to-offset is clamped to each partition's earliest..latest range.
--to-datetime takes RFC 3339 (2024-01-02T15:04:05Z) or a zone-less
2024-01-02T15:04:05[.000] read as UTC; each partition moves to its first
record at or after that time, or to its end if there is none.
--dry-run shows the new offsets without committing them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target.hasOffset = cmd.Flags().Changed("to-offset")
			if err := target.validate(); err != nil {
				return err
			}
			if topic == "" {
				return errors.New("--topic is required")
			}
			group := args[0]
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			res, err := resetOffsets(ctx, adm, group, topic, partitions, target, dryRun)
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("reset offsets of group %q", group), err)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, res)
			}
			return printReset(out, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "topic whose offsets to reset (required)")
	f.IntSliceVar(&partitions, "partitions", nil, "only these partitions, e.g. 0,1 (default all)")
	f.BoolVar(&target.earliest, "to-earliest", false, "reset to each partition's earliest offset")
	f.BoolVar(&target.latest, "to-latest", false, "reset to each partition's end offset")
	f.Int64Var(&target.offset, "to-offset", 0, "reset to this offset")
	f.StringVar(&target.datetime, "to-datetime", "", "reset to the first record at or after this time")
	f.BoolVar(&dryRun, "dry-run", false, "show the new offsets, commit nothing")
	return cmd
}

func (rt resetTarget) validate() error {
	n := 0
	for _, set := range []bool{rt.earliest, rt.latest, rt.hasOffset, rt.datetime != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime")
	}
	if rt.hasOffset && rt.offset < 0 {
		return fmt.Errorf("--to-offset %d: must not be negative", rt.offset)
	}
	if rt.datetime != "" {
		if _, err := parseDatetime(rt.datetime); err != nil {
			return err
		}
	}
	return nil
}

// parseDatetime accepts RFC 3339 with or without fractions, or the same
// without a zone (then UTC), as kafka-consumer-groups.sh does.
func parseDatetime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--to-datetime %q: want a time like 2024-01-02T15:04:05Z", s)
}

func resetOffsets(ctx context.Context, adm *kadm.Client, group, topic string, partitions []int, rt resetTarget, dryRun bool) (*resetResult, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	share := false // a share group: move its share-partition start offsets
	if g, ok := described[group]; ok {
		if g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound) {
			return nil, g.Err
		}
		if len(g.Members) > 0 || (g.State != "Empty" && g.State != "Dead" && g.State != "") {
			return nil, fmt.Errorf("group is not empty (state %s, %d members): offsets can only be reset while no consumer is in the group; stop its consumers first", g.State, len(g.Members))
		}
		if len(g.Members) == 0 && (g.Err != nil || g.State == "Dead" || g.State == "") {
			sg, ok, err := lookupShareGroup(ctx, adm, group)
			if err != nil {
				return nil, err
			}
			if ok && len(sg.Members) > 0 {
				return nil, shareNotEmpty(sg.GroupState, len(sg.Members))
			}
			share = ok
		}
	}

	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("topic %q does not exist", topic)
	}
	var ps []int32
	if len(partitions) == 0 {
		for p := range td.Partitions {
			ps = append(ps, p)
		}
	}
	for _, p := range partitions {
		if _, ok := td.Partitions[int32(p)]; !ok {
			return nil, fmt.Errorf("topic %q has no partition %d (it has %d)", topic, p, len(td.Partitions))
		}
		ps = append(ps, int32(p))
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)

	targets, err := targetOffsets(ctx, adm, topic, rt)
	if err != nil {
		return nil, err
	}
	previous := map[int32]int64{}
	if share {
		if previous, err = shareStartOffsets(ctx, adm, group, topic); err != nil {
			return nil, err
		}
	} else {
		committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) { // nothing committed yet
			return nil, err
		}
		for p, o := range committed[topic] {
			if o.Err == nil && o.At >= 0 {
				previous[p] = o.At
			}
		}
	}
	res := &resetResult{Group: group, Share: share, DryRun: dryRun, Offsets: []resetRow{}}
	commit := kadm.Offsets{}
	for _, p := range ps {
		at, ok := targets[p]
		if !ok {
			return nil, fmt.Errorf("no offset listed for %s/%d", topic, p)
		}
		row := resetRow{Topic: topic, Partition: p, New: at}
		if prev, ok := previous[p]; ok {
			row.Previous = &prev
		}
		res.Offsets = append(res.Offsets, row)
		commit.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	if dryRun {
		return res, nil
	}
	if share {
		if err := alterShareOffsets(ctx, adm, group, commit); err != nil {
			return nil, err
		}
		return res, nil
	}
	resp, err := adm.CommitOffsets(ctx, group, commit)
	if err != nil {
		return nil, err
	}
	if err := resp.Error(); err != nil {
		return nil, err
	}
	return res, nil
}

// targetOffsets lists, per partition of topic, the offset rt asks for.
func targetOffsets(ctx context.Context, adm *kadm.Client, topic string, rt resetTarget) (map[int32]int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	var byTime kadm.ListedOffsets
	if rt.datetime != "" {
		ts, _ := parseDatetime(rt.datetime)
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, ts.UnixMilli(), topic); err != nil {
			return nil, err
		}
	}
	out := map[int32]int64{}
	var firstErr error
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(topic, e.Partition)
		switch {
		case e.Err != nil:
			firstErr = e.Err
			return
		case !ok || s.Err != nil:
			firstErr = fmt.Errorf("no earliest offset for %s/%d", topic, e.Partition)
			return
		}
		var at int64
		switch {
		case rt.earliest:
			at = s.Offset
		case rt.latest:
			at = e.Offset
		case rt.hasOffset:
			at = min(max(rt.offset, s.Offset), e.Offset)
		default:
			at = e.Offset
			if b, ok := byTime.Lookup(topic, e.Partition); ok && b.Err == nil && b.Offset >= 0 {
				at = b.Offset
			}
		}
		out[e.Partition] = at
	})
	return out, firstErr
}

func printReset(w io.Writer, res *resetResult) error {
	prevCol, newCol := "PREVIOUS-OFFSET", "NEW-OFFSET"
	if res.Share {
		prevCol, newCol = "PREVIOUS-START-OFFSET", "NEW-START-OFFSET"
	}
	tw := newTable(w, "GROUP", "TOPIC", "PARTITION", prevCol, newCol)
	for _, r := range res.Offsets {
		tw.row(res.Group, r.Topic, strconv.Itoa(int(r.Partition)), optInt(r.Previous), strconv.FormatInt(r.New, 10))
	}
	if err := tw.flush(); err != nil {
		return err
	}
	if res.DryRun {
		_, err := fmt.Fprintln(w, "(dry run: nothing committed)")
		return err
	}
	return nil
}
