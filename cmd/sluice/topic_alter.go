package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func topicAddPartitionsCmd(cf *clientFlags) *cobra.Command {
	var add, total int
	cmd := &cobra.Command{
		Use:   "add-partitions TOPIC...",
		Short: "Add partitions to topics (--num to add N, or --total to grow to N)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (add > 0) == (total > 0) {
				return fmt.Errorf("give exactly one of --num N (partitions to add) or --total N (new partition count)")
			}
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			var resps kadm.CreatePartitionsResponses
			if add > 0 {
				resps, err = adm.CreatePartitions(ctx, add, args...)
			} else {
				resps, err = adm.UpdatePartitions(ctx, total, args...)
			}
			if err != nil {
				return cf.clientErr(ctx, "add partitions", err)
			}
			for _, name := range args {
				if r, ok := resps[name]; ok && r.Err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("add partitions to %q", name), withMessage(r.Err, r.ErrMessage))
				}
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, map[string]any{"topics": args, "added": add, "total": total})
			}
			for _, name := range args {
				if add > 0 {
					fmt.Fprintf(out, "Added %d partitions to %s.\n", add, name)
				} else {
					fmt.Fprintf(out, "Topic %s now has %d partitions.\n", name, total)
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&add, "num", "n", 0, "number of partitions to add")
	cmd.Flags().IntVar(&total, "total", 0, "new total number of partitions")
	return cmd
}

// configOps collects the --set/--delete/--append/--subtract flags of
// alter-config commands.
type configOps struct {
	set, del, app, sub []string
	dryRun             bool
}

func (o *configOps) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVarP(&o.set, "set", "s", nil, "set `key=value` (repeatable)")
	f.StringArrayVarP(&o.del, "delete", "d", nil, "remove the override of `key`, back to its default (repeatable)")
	f.StringArrayVar(&o.app, "append", nil, "append `key=item` to a list config (repeatable)")
	f.StringArrayVar(&o.sub, "subtract", nil, "remove `key=item` from a list config (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "only validate the change")
}

func (o *configOps) build() ([]kadm.AlterConfig, error) {
	var out []kadm.AlterConfig
	for _, g := range []struct {
		flag string
		kvs  []string
		op   kadm.IncrementalOp
	}{{"set", o.set, kadm.SetConfig}, {"append", o.app, kadm.AppendConfig}, {"subtract", o.sub, kadm.SubtractConfig}} {
		for _, kv := range g.kvs {
			k, v, ok := strings.Cut(kv, "=")
			if k = strings.TrimSpace(k); !ok || k == "" {
				return nil, fmt.Errorf("--%s %q: want key=value", g.flag, kv)
			}
			out = append(out, kadm.AlterConfig{Op: g.op, Name: k, Value: &v})
		}
	}
	for _, k := range o.del {
		if k = strings.TrimSpace(k); k == "" {
			return nil, fmt.Errorf("--delete: empty key")
		}
		out = append(out, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nothing to change: give --set, --delete, --append or --subtract")
	}
	return out, nil
}

func topicAlterConfigCmd(cf *clientFlags) *cobra.Command {
	var ops configOps
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC...",
		Short: "Change topic configs incrementally (IncrementalAlterConfigs)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			alters, err := ops.build()
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			alter := adm.AlterTopicConfigs
			if ops.dryRun {
				alter = adm.ValidateAlterTopicConfigs
			}
			resps, err := alter(ctx, alters, args...)
			if err != nil {
				return cf.clientErr(ctx, "alter topic configs", err)
			}
			for _, r := range resps {
				if r.Err != nil {
					return cf.clientErr(ctx, fmt.Sprintf("alter configs of %q", r.Name), withMessage(r.Err, r.ErrMessage))
				}
			}
			return printAltered(cmd, cf, args, ops.dryRun)
		},
	}
	ops.register(cmd)
	return cmd
}

func printAltered(cmd *cobra.Command, cf *clientFlags, names []string, dryRun bool) error {
	out := cmd.OutOrStdout()
	if cf.wantJSON() {
		return printJSON(out, map[string]any{"resources": names, "altered": !dryRun, "validate_only": dryRun})
	}
	for _, n := range names {
		if dryRun {
			fmt.Fprintf(out, "Configs of %s are valid (not changed).\n", n)
		} else {
			fmt.Fprintf(out, "Altered configs of %s.\n", n)
		}
	}
	return nil
}
