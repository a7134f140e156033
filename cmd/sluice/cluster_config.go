package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func clusterConfigCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Get or set broker configs",
		Long: `Get a broker's configs with their sources, or change them dynamically.

"set" sends IncrementalAlterConfigs for one broker (--broker) or for the
cluster-wide default (--cluster-default). Dynamic configs are kept in the
metadata log, survive restarts and take precedence over server.properties
(per-broker over cluster default over static over default). Kafka's
update modes apply: read-only configs answer INVALID_REQUEST "Cannot
update these configs dynamically", per-broker ones (listeners, SASL and
SSL settings) need --broker; names Kafka does not know are accepted as
custom configs. Sluice applies the broker-level defaults of topic configs
(log.retention.ms, log.segment.bytes, message.max.bytes, ...), the log
cleaner's settings and the replication throttles at once; Kafka's other
dynamic configs are stored and reported only (see their documentation).`,
	}
	cmd.AddCommand(clusterConfigGetCmd(cf), clusterConfigSetCmd(cf))
	return cmd
}

// brokerTarget resolves --broker: -1 means the first broker of the metadata.
func brokerTarget(ctx context.Context, adm *kadm.Client, id int32) (int32, error) {
	if id >= 0 {
		return id, nil
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return 0, err
	}
	if len(md.Brokers) == 0 {
		return 0, fmt.Errorf("the cluster lists no brokers")
	}
	return md.Brokers[0].NodeID, nil
}

func clusterConfigGetCmd(cf *clientFlags) *cobra.Command {
	var (
		broker      int32
		clusterWide bool
	)
	cmd := &cobra.Command{
		Use:   "get [KEY...]",
		Short: "Show a broker's configs (all, or the named keys) with their sources",
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			var (
				id     int32 = -1
				target       = "the cluster default"
				ids    []int32
			)
			if !clusterWide {
				if id, err = brokerTarget(ctx, adm, broker); err != nil {
					return cf.clientErr(ctx, "cluster metadata", err)
				}
				target, ids = fmt.Sprintf("broker %d", id), []int32{id}
			}
			rcs, err := adm.DescribeBrokerConfigs(ctx, ids...)
			if err != nil {
				return cf.clientErr(ctx, "describe broker configs", err)
			}
			name := ""
			if !clusterWide {
				name = strconv.Itoa(int(id))
			}
			rc, err := rcs.On(name, nil)
			if err == nil {
				err = rc.Err
			}
			if err != nil {
				return cf.clientErr(ctx, "describe configs of "+target, withMessage(err, rc.ErrMessage))
			}
			entries := []configEntry{}
			for _, c := range rc.Configs {
				if len(args) > 0 && !slices.Contains(args, c.Key) {
					continue
				}
				entries = append(entries, configEntry{Name: c.Key, Value: c.Value, Source: c.Source.String(), Sensitive: c.Sensitive})
			}
			for _, k := range args {
				if !slices.ContainsFunc(entries, func(e configEntry) bool { return e.Name == k }) {
					return fmt.Errorf("%s has no config %q", target, k)
				}
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, map[string]any{"broker": id, "configs": entries})
			}
			return printConfigs(out, entries)
		},
	}
	cmd.Flags().Int32Var(&broker, "broker", -1, "broker id (-1: the first broker the cluster lists)")
	cmd.Flags().BoolVar(&clusterWide, "cluster-default", false, "show the cluster-wide dynamic defaults (broker resource \"\") instead of one broker")
	return cmd
}

func clusterConfigSetCmd(cf *clientFlags) *cobra.Command {
	var (
		broker      int32
		clusterWide bool
		ops         configOps
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change broker configs dynamically, for one broker or the cluster default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alters, err := ops.build()
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			target, ids := "the cluster default", []int32(nil)
			if !clusterWide {
				id, err := brokerTarget(ctx, adm, broker)
				if err != nil {
					return cf.clientErr(ctx, "cluster metadata", err)
				}
				target, ids = "broker "+strconv.Itoa(int(id)), []int32{id}
			}
			alter := adm.AlterBrokerConfigs
			if ops.dryRun {
				alter = adm.ValidateAlterBrokerConfigs
			}
			resps, err := alter(ctx, alters, ids...)
			if err != nil {
				return cf.clientErr(ctx, "alter broker configs", err)
			}
			for _, r := range resps {
				if r.Err != nil {
					return cf.clientErr(ctx, "alter configs of "+target, withMessage(r.Err, r.ErrMessage))
				}
			}
			return printAltered(cmd, cf, []string{target}, ops.dryRun)
		},
	}
	cmd.Flags().Int32Var(&broker, "broker", -1, "broker id (-1: the first broker the cluster lists)")
	cmd.Flags().BoolVar(&clusterWide, "cluster-default", false, "change the cluster-wide default (broker resource \"\") instead of one broker")
	cmd.MarkFlagsMutuallyExclusive("broker", "cluster-default")
	ops.register(cmd)
	return cmd
}
