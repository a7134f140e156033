package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// logDirInfo is one log directory of `sluice cluster log-dirs`.
type logDirInfo struct {
	Broker      int32             `json:"broker"`
	Dir         string            `json:"dir"`
	TotalBytes  int64             `json:"total_bytes"`
	UsableBytes int64             `json:"usable_bytes"`
	Error       string            `json:"error,omitempty"`
	Partitions  []logDirPartition `json:"partitions"`
}

type logDirPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Size      int64  `json:"size"`
}

func clusterLogDirsCmd(cf *clientFlags) *cobra.Command {
	var topics []string
	cmd := &cobra.Command{
		Use:   "log-dirs",
		Short: "Show each broker's log directories, their disk space and the size of every partition (DescribeLogDirs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			var set kadm.TopicsSet
			if len(topics) > 0 {
				td, err := adm.ListTopics(ctx, topics...)
				if err != nil {
					return cf.clientErr(ctx, "describe topics", err)
				}
				for _, name := range topics {
					if d, ok := td[name]; !ok || d.Err != nil {
						return fmt.Errorf("topic %q does not exist", name)
					}
				}
				set = td.TopicsSet()
			}
			all, err := adm.DescribeAllLogDirs(ctx, set)
			if err != nil {
				return cf.clientErr(ctx, "describe log dirs", err)
			}
			dirs := []logDirInfo{}
			for _, d := range all.Sorted() {
				info := logDirInfo{Broker: d.Broker, Dir: d.Dir, TotalBytes: d.TotalBytes, UsableBytes: d.UsableBytes,
					Partitions: []logDirPartition{}}
				if d.Err != nil {
					info.Error = d.Err.Error()
				}
				for _, p := range d.Topics.Sorted() {
					info.Partitions = append(info.Partitions, logDirPartition{Topic: p.Topic, Partition: p.Partition, Size: p.Size})
				}
				dirs = append(dirs, info)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, dirs)
			}
			for i, d := range dirs {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "BROKER %d  DIR %s  TOTAL %s  USABLE %s\n", d.Broker, d.Dir, human(d.TotalBytes), human(d.UsableBytes))
				if d.Error != "" {
					fmt.Fprintf(out, "ERROR %s\n", d.Error)
					continue
				}
				tw := newTable(out, "TOPIC", "PARTITION", "SIZE")
				for _, p := range d.Partitions {
					tw.row(p.Topic, strconv.Itoa(int(p.Partition)), strconv.FormatInt(p.Size, 10))
				}
				if err := tw.flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&topics, "topic", "t", nil, "only these topics (default: all)")
	return cmd
}

// human formats a byte count with a binary unit; -1 is unknown.
func human(n int64) string {
	if n < 0 {
		return "?"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + "B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
