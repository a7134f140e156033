package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

func init() { extraCommands = append(extraCommands, formatCmd) }

// formatCmd is Kafka's kafka-storage format: it pins a cluster id and a
// node id to each data directory before the first start of a multi-node
// cluster, where every node must share one cluster id.
func formatCmd() *cobra.Command {
	var (
		configPath, logDirs, clusterID string
		initialControllers             string
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
			if err := formatNode(cfg, clusterID, cmd.OutOrStdout()); err != nil {
				return err
			}
			if initialControllers != "" {
				voters, err := parseInitialControllers(initialControllers)
				if err != nil {
					return err
				}
				dir := filepath.Join(cfg.MetadataLogDir(), metadata.LogDirName)
				if err := metadata.WriteVoters(dir, voters); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "formatted %s with %d initial controllers\n", dir, len(voters))
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
	f.StringVar(&initialControllers, "initial-controllers", "", "the voter set, id@host:port[:directory-id],... (kafka-storage format --initial-controllers), for nodes started with controller.quorum.bootstrap.servers")
	return cmd
}

// formatNode writes meta.properties with clusterID and the node's id into
// each of its log dirs and its metadata log dir (sluice format's work, also
// done by sluice dev-cluster). An already formatted directory with the same
// ids is left as it is.
func formatNode(cfg *config.Broker, clusterID string, out io.Writer) error {
	dirs := strings.Split(cfg.LogDirs, ",")
	if md := cfg.MetadataLogDir(); md != strings.TrimSpace(dirs[0]) {
		dirs = append(dirs, md)
	}
	for _, d := range dirs {
		d = strings.TrimSpace(d)
		if _, err := broker.FormatDir(d, clusterID, cfg.NodeID); err != nil {
			return err
		}
		fmt.Fprintf(out, "formatted %s: cluster.id=%s node.id=%d\n", d, clusterID, cfg.NodeID)
	}
	return nil
}

// parseInitialControllers reads Kafka's --initial-controllers list:
// id@host:port, optionally followed by :directory-id (accepted, unused:
// Sluice identifies a voter by its node id alone).
func parseInitialControllers(v string) (map[int32]string, error) {
	out := map[int32]string{}
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		id, rest, ok := strings.Cut(it, "@")
		n, err := strconv.ParseInt(id, 10, 32)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("--initial-controllers: %q is not id@host:port", it)
		}
		addr := rest
		if host, port, err := net.SplitHostPort(rest); err != nil {
			// host:port:directory-id
			i := strings.LastIndex(rest, ":")
			if i < 0 {
				return nil, fmt.Errorf("--initial-controllers: %q: %v", it, err)
			}
			addr = rest[:i]
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return nil, fmt.Errorf("--initial-controllers: %q: %v", it, err)
			}
		} else {
			addr = net.JoinHostPort(host, port)
		}
		if _, dup := out[int32(n)]; dup {
			return nil, fmt.Errorf("--initial-controllers: voter %d listed twice", n)
		}
		out[int32(n)] = addr
	}
	return out, nil
}
