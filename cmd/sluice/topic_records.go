package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// partitionOffsets is one row of `sluice topic offsets`.
type partitionOffsets struct {
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	AtTime    *int64 `json:"at_time,omitempty"` // first offset with timestamp >= --time (-1: none)
}

// parseTime takes milliseconds since the epoch or RFC 3339.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("--time %q: want milliseconds since the epoch or RFC 3339", s)
	}
	return t.UnixMilli(), nil
}

func topicOffsetsCmd(cf *clientFlags) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "offsets TOPIC",
		Short: "Show each partition's start and end offsets, and with --time the first offset at or after a time (ListOffsets)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			ms := int64(-1)
			if at != "" {
				var err error
				if ms, err = parseTime(at); err != nil {
					return err
				}
			}
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			starts, err := adm.ListStartOffsets(ctx, topic)
			if err == nil {
				err = starts.Error()
			}
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("offsets of %q", topic), err)
			}
			ends, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("offsets of %q", topic), err)
			}
			var times kadm.ListedOffsets
			if ms >= 0 {
				if times, err = adm.ListOffsetsAfterMilli(ctx, ms, topic); err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("offsets of %q at %d", topic, ms), err)
				}
			}
			rows := []partitionOffsets{}
			for p, o := range starts[topic] {
				row := partitionOffsets{Partition: p, Start: o.Offset, End: -1}
				if e, ok := ends.Lookup(topic, p); ok {
					row.End = e.Offset
				}
				if ms >= 0 {
					v := int64(-1)
					if tt, ok := times.Lookup(topic, p); ok && tt.Err == nil {
						v = tt.Offset
					}
					row.AtTime = &v
				}
				rows = append(rows, row)
			}
			slices.SortFunc(rows, func(a, b partitionOffsets) int { return int(a.Partition - b.Partition) })
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			header := []string{"PARTITION", "START", "END"}
			if ms >= 0 {
				header = append(header, "AT-TIME")
			}
			tw := newTable(out, header...)
			for _, r := range rows {
				cells := []string{strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Start, 10), strconv.FormatInt(r.End, 10)}
				if r.AtTime != nil {
					cells = append(cells, strconv.FormatInt(*r.AtTime, 10))
				}
				tw.row(cells...)
			}
			return tw.flush()
		},
	}
	cmd.Flags().StringVar(&at, "time", "", "also show the first offset at or after this time (ms since the epoch or RFC 3339; the end offset when no record is that recent)")
	return cmd
}

func topicDeleteRecordsCmd(cf *clientFlags) *cobra.Command {
	var (
		before     int64
		partitions []int32
	)
	cmd := &cobra.Command{
		Use:   "delete-records TOPIC",
		Short: "Delete the records before an offset (DeleteRecords): the log start offset moves up",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if before < -1 {
				return fmt.Errorf("--before %d: want an offset, or -1 for the end of each partition", before)
			}
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if len(partitions) == 0 {
				td, err := adm.ListTopics(ctx, topic)
				if err != nil {
					return cf.clientErr(ctx, "describe topic", err)
				}
				d, ok := td[topic]
				if !ok || d.Err != nil {
					return fmt.Errorf("topic %q does not exist", topic)
				}
				for p := range d.Partitions {
					partitions = append(partitions, p)
				}
				slices.Sort(partitions)
			}
			offs := kadm.Offsets{}
			for _, p := range partitions {
				offs.Add(kadm.Offset{Topic: topic, Partition: p, At: before})
			}
			resps, err := adm.DeleteRecords(ctx, offs)
			if err != nil {
				return cf.clientErr(ctx, "delete records", err)
			}
			rows := []map[string]any{}
			for _, p := range partitions {
				r, ok := resps.Lookup(topic, p)
				if !ok {
					return fmt.Errorf("delete records of %s[%d]: no answer", topic, p)
				}
				if r.Err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("delete records of %s[%d]", topic, p), r.Err)
				}
				rows = append(rows, map[string]any{"partition": p, "log_start_offset": r.LowWatermark})
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "PARTITION", "LOG-START-OFFSET")
			for _, r := range rows {
				tw.row(fmt.Sprint(r["partition"]), fmt.Sprint(r["log_start_offset"]))
			}
			return tw.flush()
		},
	}
	cmd.Flags().Int64Var(&before, "before", 0, "delete records with offsets below this (-1: everything up to the end)")
	cmd.Flags().Int32SliceVarP(&partitions, "partition", "p", nil, "only these partitions (default: all)")
	_ = cmd.MarkFlagRequired("before")
	return cmd
}
