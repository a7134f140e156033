package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/broker"
)

func init() { extraCommands = append(extraCommands, formatCmd) }

// formatCmd is Kafka's kafka-storage format: it pins a cluster id and a
// node id to each data directory before the first start of a multi-node
// cluster, where every node must share one cluster id.
func formatCmd() *cobra.Command {
	var (
		configPath, logDirs, clusterID string
		overrides                      []string
		nodeID                         int32
		random                         bool
	)
	cmd := &cobra.Command{
		Use:   "format",
		Short: "Write meta.properties (cluster id, node id) into the data directories, as kafka-storage format",
		Long: `Prepare the data directories of a node of a multi-node cluster.

Every node of one cluster must be formatted with the same cluster id before
its first start; a single node (no process.roles) formats itself. An already
formatted directory with the same ids is left as it is.`,
		Example: `  id=$(sluice format --random-cluster-id)
  sluice format --cluster-id $id --config node1.properties
  sluice format --cluster-id $id --log-dirs ./data/node-2 --node-id 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if random {
				fmt.Fprintln(cmd.OutOrStdout(), broker.NewClusterID())
				return nil
			}
			if strings.TrimSpace(clusterID) == "" {
				return fmt.Errorf("--cluster-id is required (the same on every node; --random-cluster-id prints a new one)")
			}
			cfg, err := brokerConfig(cmd, configPath, overrides, "", logDirs, nodeID)
			if err != nil {
				return err
			}
			dirs := strings.Split(cfg.LogDirs, ",")
			if md := cfg.MetadataLogDir(); md != strings.TrimSpace(dirs[0]) {
				dirs = append(dirs, md)
			}
			for _, d := range dirs {
				d = strings.TrimSpace(d)
				if _, err := broker.FormatDir(d, clusterID, cfg.NodeID); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "formatted %s: cluster.id=%s node.id=%d\n", d, clusterID, cfg.NodeID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "the node's server.properties (log.dirs, node.id)")
	f.StringArrayVar(&overrides, "override", nil, "set a config key=value (repeatable)")
	f.StringVarP(&logDirs, "log-dirs", "d", "", "log.dirs to format")
	f.Int32Var(&nodeID, "node-id", 1, "node.id")
	f.StringVarP(&clusterID, "cluster-id", "t", "", "the cluster id (kafka-storage format -t)")
	f.BoolVar(&random, "random-cluster-id", false, "print a new random cluster id and exit (kafka-storage random-uuid)")
	return cmd
}
