package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/log"
)

func init() { extraCommands = append(extraCommands, logCmd) }

func logCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Inspect partition logs on disk",
	}
	cmd.AddCommand(logVerifyCmd())
	return cmd
}

func logVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR...",
		Short: "Check every record batch of partition logs on disk (CRC-32C, header, offsets); exit 1 on damage",
		Long: `Read every segment file (*.log) of a partition directory, or of every
partition directory under a log directory (log.dirs), and check each record
batch: its header, its CRC-32C and that its offsets follow the batch before.
It does not stop at the first damage: each damaged batch is printed with its
file, position and the offsets it may hold, and checking carries on with the
next batch it can find.

Damage at the very end of a partition's last segment is what a crash leaves
behind (a torn write); it is printed as a torn tail, which the broker cuts at
its next start, and does not count as damage. Anything else is damage: the
command exits 1. It only reads, so it may run next to a broker, but a segment
the broker appends to may show a torn tail that is only a write in progress.

The broker's scrubber makes the same check of closed segments in the
background (log.scrub.interval.ms, log.scrub.bytes.per.second).`,
		Example: `  sluice log verify ./data
  sluice log verify ./data/orders-0`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			damaged := 0
			for _, dir := range args {
				sum, err := log.VerifyDir(dir, func(b log.BadBatch) {
					offsets := fmt.Sprintf("offsets %d-%d", b.FirstOffset, b.LastOffset)
					if b.LastOffset < 0 {
						offsets = fmt.Sprintf("offsets from %d", b.FirstOffset)
					}
					what := "DAMAGED"
					if b.Tail {
						what = "torn tail (cut at the next broker start)"
					}
					fmt.Fprintf(out, "%s: %s: position %d, %d bytes, %s: %s\n", b.File, what, b.Position, b.Bytes, offsets, b.Reason)
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s: %d partition directories, %d segments, %d batches, %d bytes checked: %d damaged, %d torn tails\n",
					dir, sum.Dirs, sum.Segments, sum.Batches, sum.Bytes, sum.Damaged, sum.TornTails)
				damaged += sum.Damaged
			}
			switch {
			case damaged == 1:
				return fmt.Errorf("1 damaged batch")
			case damaged > 1:
				return fmt.Errorf("%d damaged batches", damaged)
			}
			return nil
		},
	}
}
