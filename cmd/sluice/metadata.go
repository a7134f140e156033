package main

// sluice metadata: inspect and repair the metadata log of a data
// directory (internal/metadata Inspect and Repair), offline.

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/metadata"
)

func init() { extraCommands = append(extraCommands, metadataCmd) }

func metadataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metadata",
		Short: "Inspect and repair the metadata log of a data directory (offline)",
		Long: `Work on the metadata log (<log.dirs>/__cluster_metadata-0) of a data directory
directly, without a broker.

A broker whose metadata log is damaged anywhere but at its very end (the
torn tail a crash can leave, which it truncates by itself) refuses to
start, naming the file and position. "inspect" lists the log batch by
batch and marks what is damaged; "repair", with the broker stopped,
rewrites the log from every intact batch that still applies, keeps the
old log aside and adopts back partition directories the metadata no
longer knows. See docs/RELIABILITY.md.`,
		Example: `  sluice metadata inspect --log-dirs ./data
  sluice metadata repair --log-dirs ./data --dry-run
  sluice metadata repair --log-dirs ./data`,
	}
	cmd.AddCommand(metadataInspectCmd(), metadataRepairCmd())
	return cmd
}

// firstLogDir is the directory the broker keeps its metadata log in: the
// first of a comma-separated log.dirs.
func firstLogDir(logDirs string) string { return strings.TrimSpace(strings.Split(logDirs, ",")[0]) }

func metadataInspectCmd() *cobra.Command {
	var (
		logDirs string
		records bool
	)
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "List the metadata log's batches and records, mark damaged bytes, and list partition directories the metadata does not know",
		Long: `List the metadata log batch by batch (position in its segment file, offsets,
records), mark damaged bytes (where they start, how many, why, and whether
a valid batch follows) and intact batches that would not apply, and list
partition directories the metadata does not know, with what "repair"
would do about each. Nothing is changed; it may run beside a broker.
It exits with status 1 when the log needs a repair.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := metadata.Inspect(firstLogDir(logDirs))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printBatches(out, rep, records)
			printStrays(out, rep, "would ")
			damaged, skipped, bytes := counts(rep)
			fmt.Fprintf(out, "\n%d batches, %d damaged stretches (%d bytes), %d intact batches that do not apply, %d topics to adopt\n",
				len(rep.Batches)-damaged, damaged, bytes, skipped, len(rep.Adopt))
			if !rep.NeedsRepair() {
				fmt.Fprintln(out, "The metadata log is intact and every partition directory is known.")
				return nil
			}
			return fmt.Errorf("the metadata log needs a repair: stop the broker and run `sluice metadata repair --log-dirs %s`", logDirs)
		},
	}
	cmd.Flags().StringVarP(&logDirs, "log-dirs", "d", "", "log.dirs of the broker (the metadata log is in the first)")
	cmd.Flags().BoolVar(&records, "records", true, "list each batch's records (--records=false lists batches only)")
	_ = cmd.MarkFlagRequired("log-dirs")
	return cmd
}

func metadataRepairCmd() *cobra.Command {
	var (
		logDirs string
		dryRun  bool
		nodeID  int32
	)
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Rewrite a damaged metadata log from its intact batches, keep the old one aside, and adopt back partition directories the metadata does not know",
		Long: `With the broker stopped, rewrite the metadata log of --log-dirs:

  - every intact batch that still applies is kept, in order (offsets are
    renumbered from 0); damaged bytes, and intact batches that no longer
    apply (what they change was in the damaged bytes), are left out;
  - a partition directory whose topic the repaired metadata does not know
    is adopted back: a topic with the id pinned in its partition.metadata
    and as many partitions as found on disk, default configs (internal
    "__" topics: cleanup.policy=compact), this node the only replica; so
    is a partition directory beyond a known topic's partition count;
  - when bytes were skipped, the next producer id moves past any block
    they may have held, so no producer id is handed out twice.

The new log is written and checked next to the old one, then the old log
is renamed to __cluster_metadata-0.corrupt-<time> (never deleted) and the
new one takes its place. Directories are never adopted when their topic
was deleted, their name now belongs to another topic id, they disagree on
the topic id, or they have no partition.metadata; those are listed.
Run again after an interruption, it finishes the move.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := metadata.Repair(firstLogDir(logDirs), metadata.RepairOptions{NodeID: nodeID, DryRun: dryRun})
			if errors.Is(err, metadata.ErrLocked) {
				return fmt.Errorf("%w; stop the broker first", err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.Finished != "" {
				verb := "Moved"
				if dryRun {
					verb = "Would move"
				}
				fmt.Fprintf(out, "%s the new log of an interrupted repair, %s, into place.\n", verb, res.Finished)
				return nil
			}
			if !res.NeedsRepair() {
				fmt.Fprintln(out, "The metadata log is intact and every partition directory is known: nothing to repair.")
				return nil
			}
			would := ""
			if dryRun {
				would = "would "
			}
			fmt.Fprintf(out, "Metadata log %s\n", res.Dir)
			kept := 0
			for _, b := range res.Batches {
				switch {
				case b.Damage != nil:
					fmt.Fprintf(out, "  %sskip %d damaged bytes at %s position %d: %v\n", would, b.Size, b.Segment, b.Position, b.Damage)
				case b.Skipped != nil:
					fmt.Fprintf(out, "  %sskip the batch at %s position %d (offsets %d-%d): %v\n", would, b.Segment, b.Position, b.BaseOffset, b.LastOffset, b.Skipped)
				default:
					kept++
				}
			}
			damaged, _, _ := counts(res.Report)
			fmt.Fprintf(out, "  %skeep %d of %d intact batches\n", would, kept, len(res.Batches)-damaged)
			printStrays(out, res.Report, would)
			if res.NextProducerID > 0 {
				fmt.Fprintf(out, "  %smove the next producer id to %d (the skipped bytes may have held producer id blocks)\n", would, res.NextProducerID)
			}
			if dryRun {
				fmt.Fprintln(out, "Dry run: nothing was changed.")
				return nil
			}
			fmt.Fprintf(out, "Wrote the new metadata log (%d records) to %s.\n", res.Records, res.Dir)
			fmt.Fprintf(out, "Kept the old log at %s.\n", res.Aside)
			if len(res.Adopt) > 0 {
				fmt.Fprintln(out, "Adopted topics have default configs: set again any others they had once the broker runs.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&logDirs, "log-dirs", "d", "", "log.dirs of the broker (the metadata log is in the first)")
	f.BoolVar(&dryRun, "dry-run", false, "report what would be done and change nothing")
	f.Int32Var(&nodeID, "node-id", -1, "node.id to make the replica of adopted partitions; -1 takes node.id from meta.properties")
	_ = cmd.MarkFlagRequired("log-dirs")
	return cmd
}

// counts returns the damaged stretches, the skipped intact batches and the
// damaged bytes of a report.
func counts(rep *metadata.Report) (damaged, skipped int, bytes int64) {
	for _, b := range rep.Batches {
		if b.Damage != nil {
			damaged++
			bytes += b.Size
		} else if b.Skipped != nil {
			skipped++
		}
	}
	return damaged, skipped, bytes
}

// printBatches lists the log: one line per batch or damaged stretch, and
// with records one line per record.
func printBatches(out io.Writer, rep *metadata.Report, records bool) {
	fmt.Fprintf(out, "Metadata log %s\n", rep.Dir)
	names := map[metadata.UUID]string{}
	segment := ""
	for i, b := range rep.Batches {
		if b.Segment != segment {
			segment = b.Segment
			fmt.Fprintf(out, "%s\n", segment)
		}
		if b.Damage != nil {
			after := "a valid batch follows"
			switch {
			case b.TornTail:
				after = "the end of the log: a torn tail, which the broker truncates by itself"
			case i+1 == len(rep.Batches) || rep.Batches[i+1].Segment != b.Segment:
				after = "the end of a sealed segment"
			}
			fmt.Fprintf(out, "  position %d: DAMAGED, %d bytes: %v; then %s\n", b.Position, b.Size, b.Damage, after)
			continue
		}
		note := ""
		if b.Misnumbered {
			note = " (base offset out of sequence; repair renumbers it)"
		}
		if b.Skipped != nil {
			note += fmt.Sprintf(" SKIPPED: %v", b.Skipped)
		}
		fmt.Fprintf(out, "  position %d: offsets %d-%d, %d records, %s%s\n", b.Position, b.BaseOffset, b.LastOffset,
			b.LastOffset-b.BaseOffset+1, time.UnixMilli(b.MaxTimestamp).UTC().Format(time.RFC3339), note)
		for _, r := range b.Records {
			if t, ok := r.(metadata.TopicRecord); ok {
				names[t.ID] = t.Name
			}
			if records {
				fmt.Fprintf(out, "      %s\n", metadata.Describe(r, names))
			}
		}
	}
}

// printStrays lists the partition directories the metadata does not know
// and the adoptions; would is "would " for a plan, "" for what was done.
func printStrays(out io.Writer, rep *metadata.Report, would string) {
	for _, a := range rep.Adopt {
		what := fmt.Sprintf("topic %q (id %s) with %d partitions", a.Topic, a.ID, a.Partitions)
		if a.Existing > 0 {
			what = fmt.Sprintf("partitions %d-%d of topic %q (id %s)", a.Existing, a.Partitions-1, a.Topic, a.ID)
		}
		configs := "default configs"
		if len(a.Configs) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(a.Configs)) {
				kv = append(kv, k+"="+a.Configs[k])
			}
			configs = "configs " + strings.Join(kv, ", ") + " (an internal topic), others default"
		}
		fmt.Fprintf(out, "  %sadopt %s from its directories, %s\n", would, what, configs)
		for _, p := range a.Missing {
			fmt.Fprintf(out, "    partition %d has no directory: it starts empty\n", p)
		}
	}
	for _, s := range rep.Strays {
		if !s.Adopted {
			fmt.Fprintf(out, "  partition directory %s not adopted: %s\n", s.Name, s.Why)
		}
	}
}
