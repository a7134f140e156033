package main

// sluice topic: create, list, describe, delete, add partitions to and alter
// the configs of topics on a running broker, through kadm.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
)

func init() { extraCommands = append(extraCommands, topicCmd) }

func topicCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, delete and configure topics; list offsets and delete records",
		Long: `Manage topics on a running broker.

The brokers come from --brokers, else $` + brokersEnv + `, else ` + defaultBrokers + `.
Output is a table, or JSON with --format json. On failure the command
prints one line saying why and exits non-zero.`,
		Example: `  sluice topic create orders -p 3 -c retention.ms=86400000
  sluice topic list
  sluice topic describe orders --format json
  sluice topic add-partitions orders --total 6
  sluice topic alter-config orders --set retention.ms=3600000 --delete segment.ms
  sluice topic offsets orders --time 2026-01-02T15:04:05Z
  sluice topic delete-records orders --before 1000 --partition 0
  sluice topic reassign --topic orders --partition 0 --replicas 2,3 --wait
  sluice topic delete orders`,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(topicCreateCmd(cf), topicListCmd(cf), topicDescribeCmd(cf), topicDeleteCmd(cf),
		topicAddPartitionsCmd(cf), topicAlterConfigCmd(cf), topicOffsetsCmd(cf), topicDeleteRecordsCmd(cf),
		topicReassignCmd(cf))
	return cmd
}

// parseKVs turns repeated key=value flags into a config map.
func parseKVs(flag string, kvs []string) (map[string]*string, error) {
	out := map[string]*string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want key=value", flag, kv)
		}
		out[k] = &v
	}
	return out, nil
}

// createdTopic is the JSON answer of `sluice topic create`.
type createdTopic struct {
	Topic             string `json:"topic"`
	ID                string `json:"id"`
	Partitions        int32  `json:"partitions"`
	ReplicationFactor int16  `json:"replication_factor"`
	ValidateOnly      bool   `json:"validate_only,omitempty"`
}

func topicCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		partitions int32
		rf         int16
		configs    []string
		dryRun     bool
	)
	cmd := &cobra.Command{
		Use:   "create TOPIC...",
		Short: "Create topics (partitions and replication factor default to the broker's)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgs, err := parseKVs("config", configs)
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			create := adm.CreateTopics
			if dryRun {
				create = adm.ValidateCreateTopics
			}
			resps, err := create(ctx, partitions, rf, cfgs, args...)
			if err != nil {
				return cf.clientErr(ctx, "create topics", err)
			}
			var rows []createdTopic
			for _, name := range args {
				r, ok := resps[name]
				if !ok {
					return fmt.Errorf("create topic %q: no answer from the broker", name)
				}
				if r.Err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("create topic %q", name), withMessage(r.Err, r.ErrMessage))
				}
				rows = append(rows, createdTopic{Topic: name, ID: kafkaID(r.ID), Partitions: r.NumPartitions,
					ReplicationFactor: r.ReplicationFactor, ValidateOnly: dryRun})
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "TOPIC", "ID", "PARTITIONS", "REPLICATION-FACTOR", "STATUS")
			for _, r := range rows {
				status := "created"
				if dryRun {
					status = "valid (not created)"
				}
				tw.row(r.Topic, r.ID, strconv.Itoa(int(r.Partitions)), strconv.Itoa(int(r.ReplicationFactor)), status)
			}
			return tw.flush()
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's num.partitions)")
	f.Int16VarP(&rf, "replication-factor", "r", -1, "replication factor (-1: the broker's default.replication.factor)")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config `key=value` (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "only validate the request")
	return cmd
}

// withMessage appends the broker's error message to err, when it has one;
// a Kafka error code is shown by its name only, then the message.
func withMessage(err error, msg string) error {
	if msg == "" || strings.Contains(err.Error(), msg) {
		return err
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return fmt.Errorf("%s: %s", ke.Message, msg)
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// listedTopic is one row of `sluice topic list`.
type listedTopic struct {
	Topic             string `json:"topic"`
	ID                string `json:"id"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal"`
}

func topicListCmd(cf *clientFlags) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition count and replication factor",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			list := adm.ListTopics
			if internal {
				list = adm.ListTopicsWithInternal
			}
			topics, err := list(ctx)
			if err != nil {
				return cf.clientErr(ctx, "list topics", err)
			}
			rows := []listedTopic{}
			for _, t := range topics.Sorted() {
				if t.Err != nil {
					continue
				}
				rows = append(rows, listedTopic{Topic: t.Topic, ID: kafkaID(t.ID), Partitions: len(t.Partitions),
					ReplicationFactor: t.Partitions.NumReplicas(), Internal: t.IsInternal})
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "TOPIC", "PARTITIONS", "REPLICAS", "ID")
			for _, r := range rows {
				tw.row(r.Topic, strconv.Itoa(r.Partitions), strconv.Itoa(r.ReplicationFactor), r.ID)
			}
			return tw.flush()
		},
	}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics (__consumer_offsets, ...)")
	return cmd
}

func topicDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete TOPIC...",
		Short: "Delete topics and all their data",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			resps, err := adm.DeleteTopics(ctx, args...)
			if err != nil {
				return cf.clientErr(ctx, "delete topics", err)
			}
			for _, name := range args {
				if r, ok := resps[name]; ok && r.Err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("delete topic %q", name), withMessage(r.Err, r.ErrMessage))
				}
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, map[string]any{"deleted": args})
			}
			for _, name := range args {
				fmt.Fprintf(out, "Deleted topic %s.\n", name)
			}
			return nil
		},
	}
}

// kafkaID formats a topic id as Kafka's tools do: URL-safe base64, no padding.
func kafkaID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }
