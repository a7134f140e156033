package main

// sluice group: list, describe, reset the offsets of and delete consumer
// groups on a running broker (any Kafka-compatible one), through kadm.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { extraCommands = append(extraCommands, groupCmd) }

func groupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe, reset offsets of and delete consumer and share groups",
		Long: `Manage groups on a running broker: classic and KIP-848 consumer groups,
and KIP-932 share groups (what kafka-consumer-groups.sh and
kafka-share-groups.sh do). Each subcommand finds out which kind GROUP is.

The brokers come from --brokers, else $` + brokersEnv + `, else ` + defaultBrokers + `.
Output is a table, or JSON with --format json. On failure the command
prints one line saying why and exits non-zero.`,
		Example: `  sluice group list --type share
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
	Group string `json:"group"`
	// Type is classic, consumer (KIP-848) or share (KIP-932), from
	// ListGroups v5; "" when the broker does not say.
	Type         string `json:"type"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
}

// groupTypes are the values --type accepts, as kafka-groups.sh --group-type.
var groupTypes = []string{"classic", "consumer", "share"}

func groupListCmd(cf *clientFlags) *cobra.Command {
	var states, types []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List groups: type (classic, consumer or share), state, protocol type and member count",
		Long: `List the groups of the cluster with their type, state, protocol type and
number of members.

TYPE is classic (JoinGroup/SyncGroup), consumer (KIP-848) or share
(KIP-932), as the broker reports it (ListGroups v5); "-" when it does not.
A share group's members are counted with ShareGroupDescribe, the others'
with DescribeGroups. --type keeps only groups of the given types, as
kafka-groups.sh --list --group-type does; --state only groups in the given
states (classic: Empty, PreparingRebalance, CompletingRebalance, Stable,
Dead; consumer: Empty, Assigning, Reconciling, Stable, Dead; share: Empty,
Stable, Dead).`,
		Example: `  sluice group list
  sluice group list --type share
  sluice group list --state Stable --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for i, t := range types {
				types[i] = strings.ToLower(strings.TrimSpace(t))
				if !slices.Contains(groupTypes, types[i]) {
					return fmt.Errorf("unknown --type %q (want %s)", t, strings.Join(groupTypes, ", "))
				}
			}
			cl, ctx, done, err := cf.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			rows, err := listGroups(ctx, cl, states, types)
			if err != nil {
				return cf.clientErr(ctx, "list groups", err)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "GROUP", "TYPE", "STATE", "PROTOCOL-TYPE", "MEMBERS")
			for _, r := range rows {
				tw.row(r.Group, dash(r.Type), dash(r.State), dash(r.ProtocolType), strconv.Itoa(r.Members))
			}
			return tw.flush()
		},
	}
	cmd.Flags().StringSliceVar(&types, "type", nil, "only groups of these types: classic, consumer, share")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (e.g. Stable, Empty, PreparingRebalance, Assigning)")
	return cmd
}

// listGroups lists the groups (filtered by states and types) sorted by
// name, with their member counts.
func listGroups(ctx context.Context, cl *kgo.Client, states, types []string) ([]listedGroup, error) {
	rows, err := listGroupsTyped(ctx, cl, states, types)
	if err != nil {
		return nil, err
	}
	// A share group is Dead to DescribeGroups: count its members with
	// ShareGroupDescribe instead.
	var shares, others []string
	for _, r := range rows {
		if r.Type == "share" {
			shares = append(shares, r.Group)
		} else {
			others = append(others, r.Group)
		}
	}
	adm := kadm.NewClient(cl)
	var described kadm.DescribedGroups
	if len(others) > 0 {
		if described, err = adm.DescribeGroups(ctx, others...); err != nil {
			return nil, fmt.Errorf("describe groups: %w", err)
		}
	}
	var sharesDescribed kadm.DescribedShareGroups
	if len(shares) > 0 {
		if sharesDescribed, err = adm.DescribeShareGroups(ctx, shares...); err != nil {
			return nil, fmt.Errorf("describe share groups: %w", err)
		}
	}
	for i := range rows {
		r := &rows[i]
		if r.Type == "share" {
			if d, ok := sharesDescribed[r.Group]; ok && d.Err == nil {
				r.Members = len(d.Members)
				if r.State == "" {
					r.State = d.GroupState
				}
			}
			continue
		}
		if d, ok := described[r.Group]; ok && d.Err == nil {
			r.Members = len(d.Members)
			if r.State == "" {
				r.State = d.State // ListGroups before v4 has no state
			}
		}
	}
	return rows, nil
}

// listGroupsTyped is ListGroups to every broker, keeping each group's type
// (v5), which kadm's ListedGroup does not carry.
func listGroupsTyped(ctx context.Context, cl *kgo.Client, states, types []string) ([]listedGroup, error) {
	req := kmsg.NewPtrListGroupsRequest()
	req.StatesFilter = append(req.StatesFilter, states...)
	req.TypesFilter = append(req.TypesFilter, types...)
	var rows []listedGroup
	seen := map[string]bool{}
	for _, sh := range cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			return nil, sh.Err
		}
		resp := sh.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, err
		}
		if len(types) > 0 && resp.Version < 5 {
			return nil, fmt.Errorf("broker %d does not filter groups by type (ListGroups v%d; --type needs v5, Kafka 3.8+)", sh.Meta.NodeID, resp.Version)
		}
		for _, g := range resp.Groups {
			if seen[g.Group] {
				continue
			}
			seen[g.Group] = true
			row := listedGroup{Group: g.Group, Type: strings.ToLower(g.GroupType), State: g.GroupState, ProtocolType: g.ProtocolType}
			if resp.Version < 5 {
				row.Type = ""
			}
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b listedGroup) int { return strings.Compare(a.Group, b.Group) })
	if rows == nil {
		rows = []listedGroup{}
	}
	return rows, nil
}

func groupDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete an empty group: a consumer group with its committed offsets, or a share group with its share-partition state",
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
