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

Sluice does not implement dynamic broker configs yet: "set" sends
IncrementalAlterConfigs and reports the broker's refusal. Set broker
configs in server.properties or with "sluice serve --override".`,
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
	var broker int32
	cmd := &cobra.Command{
		Use:   "get [KEY...]",
		Short: "Show a broker's configs (all, or the named keys) with their sources",
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			id, err := brokerTarget(ctx, adm, broker)
			if err != nil {
				return cf.clientErr(ctx, "cluster metadata", err)
			}
			rcs, err := adm.DescribeBrokerConfigs(ctx, id)
			if err != nil {
				return cf.clientErr(ctx, "describe broker configs", err)
			}
			rc, err := rcs.On(strconv.Itoa(int(id)), nil)
			if err == nil {
				err = rc.Err
			}
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("describe configs of broker %d", id), withMessage(err, rc.ErrMessage))
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
					return fmt.Errorf("broker %d has no config %q", id, k)
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
	return cmd
}

func clusterConfigSetCmd(cf *clientFlags) *cobra.Command {
	var (
		broker int32
		ops    configOps
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change broker configs dynamically (IncrementalAlterConfigs; Sluice refuses it for now)",
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
			id, err := brokerTarget(ctx, adm, broker)
			if err != nil {
				return cf.clientErr(ctx, "cluster metadata", err)
			}
			alter := adm.AlterBrokerConfigs
			if ops.dryRun {
				alter = adm.ValidateAlterBrokerConfigs
			}
			resps, err := alter(ctx, alters, id)
			if err != nil {
				return cf.clientErr(ctx, "alter broker configs", err)
			}
			for _, r := range resps {
				if r.Err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("alter configs of broker %d", id), withMessage(r.Err, r.ErrMessage))
				}
			}
			return printAltered(cmd, cf, []string{"broker " + strconv.Itoa(int(id))}, ops.dryRun)
		},
	}
	cmd.Flags().Int32Var(&broker, "broker", -1, "broker id (-1: the first broker the cluster lists)")
	ops.register(cmd)
	return cmd
}
