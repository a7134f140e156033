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
	"github.com/sluice-io/sluice/internal/raft"
)

func init() { extraCommands = append(extraCommands, metadataCmd) }

func metadataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metadata",
		Short: "Inspect and repair the metadata log of a data directory (offline)",
		Long: `Work on the metadata log (<log.dirs>/__cluster_metadata-0) of a data directory
directly, without a broker. The log is the raft WAL of this node's member
of the metadata quorum, with checkpoints (snapshots of the metadata) and
quorum-state beside it.

A broker whose metadata log is damaged anywhere but at its very end (the
torn tail a crash can leave, which it truncates by itself) refuses to
start, naming the file and position. "inspect" lists the checkpoints and
the log batch by batch and entry by entry, and marks what is damaged;
"repair", with the broker stopped, rebuilds the metadata of a one-voter
quorum from the newest intact checkpoint and every intact entry after it
that still applies, keeps the old log aside and adopts back partition
directories the metadata no longer knows. A member of a quorum of several
voters gets its log back from the quorum instead. See docs/RELIABILITY.md.`,
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
		Short: "List the metadata log's checkpoints, batches, entries and records, mark damaged bytes, and list partition directories the metadata does not know",
		Long: `List the metadata log: its checkpoints (index, term, voters; damaged ones
marked) and the WAL batch by batch (position in its segment file, offsets,
term) and entry by entry (index, records of each change), mark damaged
bytes (where they start, how many, why, and whether a valid batch follows:
a torn tail or damage mid-log), entries the checkpoint already holds and
entries that would not apply to the metadata built so far, and list
partition directories the metadata does not know, with what "repair"
would do about each. A log in the single-node format from before the
metadata quorum is listed batch by batch; the broker migrates it at its
next start. Nothing is changed; it may run beside a broker.
It exits with status 1 when the log needs a repair.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := metadata.Inspect(firstLogDir(logDirs))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printLog(out, rep, records)
			printStrays(out, rep, "would ")
			c := counts(rep)
			fmt.Fprintf(out, "\n%d batches, %d damaged stretches (%d bytes), %d missing entries, %d changes that do not apply, %d topics to adopt\n",
				c.batches, c.damaged, c.bytes, rep.Missing, c.skipped, len(rep.Adopt))
			if rep.Format == metadata.FormatLegacy {
				fmt.Fprintf(out, "This log is in the single-node format from before the metadata quorum: the broker migrates it at its next start "+
					"and keeps it at %s%s.\n", rep.Dir, metadata.LegacySuffix)
			}
			if !rep.NeedsRepair() {
				fmt.Fprintln(out, "The metadata log is intact and every partition directory is known.")
				return nil
			}
			if err := rep.Repairable(); err != nil {
				return fmt.Errorf("the metadata log needs a repair, which `sluice metadata repair` cannot do here: %w", err)
			}
			return fmt.Errorf("the metadata log needs a repair: stop the broker and run `sluice metadata repair --log-dirs %s`", logDirs)
		},
	}
	cmd.Flags().StringVarP(&logDirs, "log-dirs", "d", "", "log.dirs of the broker (the metadata log is in the first)")
	cmd.Flags().BoolVar(&records, "records", true, "list each change's records (--records=false lists batches and entries only)")
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
		Short: "Rebuild a damaged metadata log from its newest intact checkpoint and intact entries, keep the old one aside, and adopt back partition directories the metadata does not know",
		Long: `With the broker stopped, rebuild the metadata log of --log-dirs (a one-voter
quorum: a node with no controller.quorum.voters, or a quorum of one):

  - the metadata is the newest intact checkpoint, then every intact entry
    after it that still applies, in order; damaged bytes, and intact
    entries that no longer apply (what they change was in the damaged
    bytes), are left out;
  - a partition directory whose topic the repaired metadata does not know
    is adopted back: a topic with the id pinned in its partition.metadata
    and as many partitions as found on disk, default configs (internal
    "__" topics: cleanup.policy=compact), this node the only replica; so
    is a partition directory beyond a known topic's partition count;
  - when bytes were skipped, the next producer id moves past any block
    they may have held, so no producer id is handed out twice.

The new log (a checkpoint holding that metadata, with the old
checkpoint's voter, at the old log's last index and term so offsets and
terms keep growing, and an empty WAL) is written and checked next to the
old one, then the old log is renamed to __cluster_metadata-0.corrupt-<time>
(never deleted) and the new one takes its place. Directories are never
adopted when their topic was deleted, their name now belongs to another
topic id, they disagree on the topic id, or they have no
partition.metadata; those are listed. Run again after an interruption, it
finishes the move.

A member of a quorum of several voters is refused: move its
__cluster_metadata-0 aside and start it, and it catches up from the
leader (only while a majority of the voters is healthy). A log in the
single-node format from before the quorum is repaired in that format and
migrated at the next start.`,
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
			fmt.Fprintf(out, "Metadata log %s (%s format)\n", res.Dir, res.Format)
			if res.Base != nil {
				fmt.Fprintf(out, "  %sstart from checkpoint %s (index %d, term %d)\n", would, res.Base.Name, res.Base.Index, res.Base.Term)
			}
			kept := 0
			for _, b := range res.Batches {
				where := fmt.Sprintf("%s position %d", b.Segment, b.Position)
				switch {
				case b.Damage != nil:
					lost := ""
					if b.FirstLost > 0 {
						lost = fmt.Sprintf(" (entries %d-%d)", b.FirstLost, b.LastLost)
					}
					fmt.Fprintf(out, "  %sskip %d damaged bytes%s at %s: %v\n", would, b.Size, lost, where, b.Damage)
				case b.Skipped != nil:
					fmt.Fprintf(out, "  %sskip the batch at %s (offsets %d-%d): %v\n", would, where, b.BaseOffset, b.LastOffset, b.Skipped)
				case res.Format == metadata.FormatLegacy:
					kept++
				}
				for _, e := range b.Entries {
					switch {
					case e.Covered:
					case e.Skipped != nil:
						fmt.Fprintf(out, "  %sskip entry %d (term %d) at %s: %v\n", would, e.Index, e.Term, where, e.Skipped)
					case e.Kind == raft.EntryProposal:
						kept++
					}
				}
			}
			if res.Missing > 0 {
				fmt.Fprintf(out, "  %d entries after the checkpoint are lost\n", res.Missing)
			}
			fmt.Fprintf(out, "  %skeep %d intact changes\n", would, kept)
			printStrays(out, res.Report, would)
			if res.NextProducerID > 0 {
				fmt.Fprintf(out, "  %smove the next producer id to %d (the skipped bytes may have held producer id blocks)\n", would, res.NextProducerID)
			}
			if dryRun {
				fmt.Fprintln(out, "Dry run: nothing was changed.")
				return nil
			}
			fmt.Fprintf(out, "Wrote the new metadata log to %s: %d records, %d topics.\n", res.Dir, res.Records, len(res.Repaired.TopicsByName))
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

type logCounts struct {
	batches, damaged, skipped int
	bytes                     int64
}

// counts returns the intact batches, the damaged stretches and their
// bytes, and the changes left out (batches of a single-node log, entries
// of a raft log) of a report.
func counts(rep *metadata.Report) logCounts {
	var c logCounts
	for _, b := range rep.Batches {
		switch {
		case b.Damage != nil:
			c.damaged++
			c.bytes += b.Size
			continue
		case b.Skipped != nil:
			c.skipped++
		}
		c.batches++
		for _, e := range b.Entries {
			if e.Skipped != nil && !e.Covered {
				c.skipped++
			}
		}
	}
	return c
}

// printLog lists the checkpoints and the log: one line per batch or
// damaged stretch, one per entry, and with records one per record.
func printLog(out io.Writer, rep *metadata.Report, records bool) {
	if rep.Format == metadata.FormatNone {
		fmt.Fprintf(out, "Metadata log %s: none yet (no checkpoint, no segment)\n", rep.Dir)
		return
	}
	fmt.Fprintf(out, "Metadata log %s (%s format)\n", rep.Dir, rep.Format)
	names := map[metadata.UUID]string{}
	if rep.Format == metadata.FormatRaft {
		if rep.HasHardState {
			fmt.Fprintf(out, "quorum-state: term %d, voted for %s, commit index %d\n",
				rep.HardState.Term, raftNode(rep.HardState.Vote), rep.HardState.Commit)
		}
		fmt.Fprintln(out, "Checkpoints (newest first)")
		for i, c := range rep.Checkpoints {
			if c.Err != nil {
				fmt.Fprintf(out, "  %s: DAMAGED, %d bytes: %v\n", c.Name, c.Size, c.Err)
				continue
			}
			voters := make([]string, len(c.Voters))
			for j, v := range c.Voters {
				voters[j] = raftNode(v)
			}
			use := ""
			if rep.Base == &rep.Checkpoints[i] {
				use = "; the metadata starts from it"
			}
			fmt.Fprintf(out, "  %s: index %d, term %d, voters [%s], %d bytes%s\n", c.Name, c.Index, c.Term, strings.Join(voters, " "), c.Size, use)
		}
		if rep.Base == nil {
			fmt.Fprintln(out, "  NO INTACT CHECKPOINT: a broker cannot start from this log")
		} else if rep.Base != &rep.Checkpoints[0] {
			fmt.Fprintf(out, "  A broker starts from the older intact checkpoint and the entries after it, which the log keeps; "+
				"its next snapshot replaces the damaged one\n")
		}
		if rep.Base != nil && records {
			img, _ := metadata.ImageFromRecords(rep.Base.Data)
			for _, r := range img.Records() {
				if t, ok := r.(metadata.TopicRecord); ok {
					names[t.ID] = t.Name
				}
			}
		}
	}
	segment := ""
	for i, b := range rep.Batches {
		if b.Segment != segment {
			segment = b.Segment
			fmt.Fprintf(out, "%s\n", segment)
		}
		if b.Damage != nil {
			after := "a valid batch follows: damage mid-log"
			switch {
			case b.TornTail:
				after = "the end of the log: a torn tail, which the broker truncates by itself"
			case i+1 == len(rep.Batches) || rep.Batches[i+1].Segment != b.Segment:
				after = "the end of a sealed segment: damage mid-log"
			}
			lost := ""
			if b.FirstLost > 0 {
				lost = fmt.Sprintf(" (held entries %d-%d)", b.FirstLost, b.LastLost)
			}
			fmt.Fprintf(out, "  position %d: DAMAGED, %d bytes%s: %v; then %s\n", b.Position, b.Size, lost, b.Damage, after)
			continue
		}
		note := ""
		if b.Misnumbered {
			note = " (base offset out of sequence; numbered as expected)"
		}
		if b.Skipped != nil {
			note += fmt.Sprintf(" SKIPPED: %v", b.Skipped)
		}
		when := time.UnixMilli(b.MaxTimestamp).UTC().Format(time.RFC3339)
		if rep.Format != metadata.FormatRaft {
			fmt.Fprintf(out, "  position %d: offsets %d-%d, %d records, %s%s\n", b.Position, b.BaseOffset, b.LastOffset,
				b.LastOffset-b.BaseOffset+1, when, note)
			printRecords(out, b.Records, names, records, "      ")
			continue
		}
		fmt.Fprintf(out, "  position %d: offsets %d-%d, term %d, %s%s\n", b.Position, b.BaseOffset, b.LastOffset,
			b.Epoch, when, note)
		for _, e := range b.Entries {
			what := fmt.Sprintf("a change of %d record(s)", len(e.Records))
			switch e.Kind {
			case raft.EntryEmpty:
				what = "a new leader's empty entry"
			case raft.EntryConfChange:
				what = "a configuration change: " + e.ConfChange
			}
			switch {
			case e.Covered:
				what += " (in the checkpoint)"
			case e.Skipped != nil:
				what += fmt.Sprintf(" DOES NOT APPLY: %v", e.Skipped)
			}
			fmt.Fprintf(out, "    entry %d: %s\n", e.Index, what)
			printRecords(out, e.Records, names, records, "        ")
		}
	}
}

func printRecords(out io.Writer, recs []metadata.Record, names map[metadata.UUID]string, show bool, indent string) {
	for _, r := range recs {
		if t, ok := r.(metadata.TopicRecord); ok {
			names[t.ID] = t.Name
		}
		if show {
			fmt.Fprintf(out, "%s%s\n", indent, metadata.Describe(r, names))
		}
	}
}

// raftNode names a raft member id by its node id.
func raftNode(id uint64) string {
	if id == 0 {
		return "none"
	}
	return fmt.Sprintf("node %d", metadata.NodeID(id))
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
