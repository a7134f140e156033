package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicDescription is what `sluice topic describe` shows.
type topicDescription struct {
	Topic      string            `json:"topic"`
	ID         string            `json:"id"`
	Internal   bool              `json:"internal"`
	Partitions []partitionDetail `json:"partitions"`
	Configs    []configEntry     `json:"configs"`
}

type partitionDetail struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	// ELR and LastKnownELR are KIP-966's eligible leader replicas, which
	// Sluice does not keep: always empty (kafka-topics --describe's Elr
	// and LastKnownElr).
	ELR          []int32 `json:"elr"`
	LastKnownELR []int32 `json:"last_known_elr"`
	Offline      []int32 `json:"offline_replicas"`
	// Status: ok, under-replicated (ISR smaller than the replicas) or
	// offline (no leader).
	Status      string `json:"status"`
	StartOffset int64  `json:"start_offset"`
	EndOffset   int64  `json:"end_offset"`
	Error       string `json:"error,omitempty"`
}

// configEntry is one config with where its value comes from.
type configEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive,omitempty"`
}

func topicDescribeCmd(cf *clientFlags) *cobra.Command {
	var overridesOnly, underReplicated, unavailable bool
	cmd := &cobra.Command{
		Use:   "describe TOPIC",
		Short: "Show a topic's partitions (leader, replicas, ISR, offline replicas, status, start/end offsets) and configs with their sources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			d, err := describeTopic(ctx, adm, args[0])
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("describe topic %q", args[0]), err)
			}
			if underReplicated || unavailable {
				// kafka-topics' filters: either kind listed when both are given.
				var kept []partitionDetail
				for _, p := range d.Partitions {
					if underReplicated && len(p.ISR) < len(p.Replicas) || unavailable && p.Leader < 0 {
						kept = append(kept, p)
					}
				}
				d.Partitions = kept
			}
			if d.Partitions == nil {
				d.Partitions = []partitionDetail{}
			}
			if overridesOnly {
				var kept []configEntry
				for _, c := range d.Configs {
					if c.Source == "DYNAMIC_TOPIC_CONFIG" {
						kept = append(kept, c)
					}
				}
				d.Configs = kept
			}
			if d.Configs == nil {
				d.Configs = []configEntry{}
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, d)
			}
			return printTopic(out, d)
		},
	}
	cmd.Flags().BoolVar(&overridesOnly, "overrides", false, "show only the topic's own config overrides")
	cmd.Flags().BoolVar(&underReplicated, "under-replicated-partitions", false, "show only partitions whose ISR is smaller than their replicas, as kafka-topics")
	cmd.Flags().BoolVar(&unavailable, "unavailable-partitions", false, "show only partitions without a leader, as kafka-topics")
	return cmd
}

func describeTopic(ctx context.Context, adm *kadm.Client, topic string) (*topicDescription, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := md.Topics[topic]
	if !ok {
		return nil, kerr.UnknownTopicOrPartition
	}
	if td.Err != nil {
		return nil, td.Err
	}
	// An offline partition's offsets cannot be listed (its leader is the
	// one to ask): it shows -1, the rest of the topic is still described.
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil && !isShardErr(err) {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil && !isShardErr(err) {
		return nil, err
	}
	d := &topicDescription{Topic: topic, ID: kafkaID(td.ID), Internal: td.IsInternal}
	for _, p := range td.Partitions.Sorted() {
		pd := partitionDetail{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), ELR: []int32{}, LastKnownELR: []int32{},
			Offline: nonNil(p.OfflineReplicas), StartOffset: -1, EndOffset: -1, Status: partitionStatus(p.Leader, p.Replicas, p.ISR)}
		if o, ok := starts.Lookup(topic, p.Partition); ok && o.Err == nil {
			pd.StartOffset = o.Offset
		}
		if o, ok := ends.Lookup(topic, p.Partition); ok && o.Err == nil {
			pd.EndOffset = o.Offset
		}
		if p.Err != nil {
			pd.Error = p.Err.Error()
		}
		d.Partitions = append(d.Partitions, pd)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	for _, c := range rc.Configs {
		d.Configs = append(d.Configs, configEntry{Name: c.Key, Value: c.Value, Source: c.Source.String(), Sensitive: c.Sensitive})
	}
	return d, nil
}

// Partition statuses in `sluice topic describe`.
const (
	partitionOK              = "ok"
	partitionUnderReplicated = "under-replicated"
	partitionOffline         = "offline"
)

// partitionStatus is offline without a leader, under-replicated with an
// ISR smaller than the replica set (kafka-topics'
// --unavailable-partitions and --under-replicated-partitions), else ok.
func partitionStatus(leader int32, replicas, isr []int32) string {
	switch {
	case leader < 0:
		return partitionOffline
	case len(isr) < len(replicas):
		return partitionUnderReplicated
	}
	return partitionOK
}

// isShardErr reports whether err is only some partitions' failure (kadm's
// ShardErrors): the answer still holds the others.
func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se)
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

func printTopic(w io.Writer, d *topicDescription) error {
	rf := 0
	if len(d.Partitions) > 0 {
		rf = len(d.Partitions[0].Replicas)
	}
	fmt.Fprintf(w, "TOPIC        %s\nID           %s\nPARTITIONS   %d\nREPLICAS     %d\nINTERNAL     %v\n\n",
		d.Topic, d.ID, len(d.Partitions), rf, d.Internal)
	tw := newTable(w, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "ELR", "LAST-KNOWN-ELR", "OFFLINE",
		"START-OFFSET", "END-OFFSET", "STATUS")
	for _, p := range d.Partitions {
		leader := strconv.Itoa(int(p.Leader))
		if p.Leader < 0 {
			leader = "none" // as kafka-topics prints it
		}
		offline := "-"
		if len(p.Offline) > 0 {
			offline = ints(p.Offline)
		}
		tw.row(strconv.Itoa(int(p.Partition)), leader, strconv.Itoa(int(p.LeaderEpoch)),
			ints(p.Replicas), ints(p.ISR), ints(p.ELR), ints(p.LastKnownELR), offline,
			strconv.FormatInt(p.StartOffset, 10), strconv.FormatInt(p.EndOffset, 10), p.Status)
	}
	if err := tw.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printConfigs(w, d.Configs)
}

func printConfigs(w io.Writer, cs []configEntry) error {
	tw := newTable(w, "CONFIG", "VALUE", "SOURCE")
	for _, c := range cs {
		v := "-"
		if c.Sensitive {
			v = "(sensitive)"
		} else if c.Value != nil {
			v = *c.Value
			if v == "" {
				v = `""`
			}
		}
		tw.row(c.Name, v, c.Source)
	}
	return tw.flush()
}

// ints formats broker ids as [1,2,3].
func ints(is []int32) string {
	s := make([]string, len(is))
	for i, v := range is {
		s[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(s, ",") + "]"
}
