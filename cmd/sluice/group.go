package main

// sluice group: list, describe, reset the offsets of and delete consumer
// groups on a running broker (any Kafka-compatible one), through kadm.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func init() { extraCommands = append(extraCommands, groupCmd) }

func groupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe, reset offsets of and delete consumer groups",
		Long: `Manage consumer groups on a running broker.

The brokers come from --brokers, else $` + brokersEnv + `, else ` + defaultBrokers + `.
Output is a table, or JSON with --format json. On failure the command
prints one line saying why and exits non-zero.`,
		Example: `  sluice group list
  sluice group describe orders-service --format json
  sluice group reset-offsets orders-service --topic orders --to-earliest --dry-run
  sluice group delete orders-service`,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(groupListCmd(cf), groupDescribeCmd(cf), groupResetCmd(cf), groupDeleteCmd(cf))
	return cmd
}

// listedGroup is one row of `sluice group list`.
type listedGroup struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
}

func groupListCmd(cf *clientFlags) *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups: state, protocol type and member count",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			listed, err := adm.ListGroups(ctx, states...)
			if err != nil {
				return cf.clientErr(ctx, "list groups", err)
			}
			rows := make([]listedGroup, 0, len(listed))
			names := listed.Groups()
			var described kadm.DescribedGroups
			if len(names) > 0 {
				if described, err = adm.DescribeGroups(ctx, names...); err != nil {
					return cf.clientErr(ctx, "describe groups", err)
				}
			}
			for _, l := range listed.Sorted() {
				row := listedGroup{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType}
				if d, ok := described[l.Group]; ok && d.Err == nil {
					row.Members = len(d.Members)
					if row.State == "" {
						row.State = d.State // ListGroups before v4 has no state
					}
				}
				rows = append(rows, row)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "GROUP", "STATE", "PROTOCOL-TYPE", "MEMBERS")
			for _, r := range rows {
				tw.row(r.Group, r.State, dash(r.ProtocolType), strconv.Itoa(r.Members))
			}
			return tw.flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (Stable, Empty, PreparingRebalance, CompletingRebalance, Dead)")
	return cmd
}

func groupDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete an empty consumer group and its committed offsets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			resp, err := adm.DeleteGroup(ctx, group)
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("delete group %q", group), err)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, map[string]any{"group": group, "deleted": true})
			}
			_, err = fmt.Fprintf(out, "Deleted group %s.\n", group)
			return err
		},
	}
}

// dash shows an empty cell as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortedTopics returns the keys of m in order.
func sortedTopics[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
