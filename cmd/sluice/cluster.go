package main

// sluice cluster: the brokers and controller, and broker configs.

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, clusterCmd) }

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster's brokers and controller; get and set broker configs",
		Long: `Inspect the cluster.

The brokers come from --brokers, else $` + brokersEnv + `, else ` + defaultBrokers + `.
Output is a table, or JSON with --format json.`,
		Example: `  sluice cluster info
  sluice cluster config get log.retention.ms
  sluice cluster config get --format json
  sluice cluster log-dirs --topic orders`,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(clusterInfoCmd(cf), clusterConfigCmd(cf), clusterLogDirsCmd(cf))
	return cmd
}

// clusterInfo is what `sluice cluster info` shows.
type clusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Quorum     string       `json:"quorum"`
	Brokers    []brokerInfo `json:"brokers"`
}

type brokerInfo struct {
	ID         int32   `json:"id"`
	Host       string  `json:"host"`
	Port       int32   `json:"port"`
	Rack       *string `json:"rack"`
	Controller bool    `json:"controller"`
}

func clusterInfoCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Show the cluster id, the brokers and the active controller",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			md, err := adm.BrokerMetadata(ctx)
			if err != nil {
				return cf.clientErr(ctx, "cluster metadata", err)
			}
			info := clusterInfo{ClusterID: md.Cluster, Controller: md.Controller,
				Quorum: "single node (embedded metadata log, no raft quorum)", Brokers: []brokerInfo{}}
			for _, b := range md.Brokers {
				info.Brokers = append(info.Brokers, brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack,
					Controller: b.NodeID == md.Controller})
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, info)
			}
			fmt.Fprintf(out, "CLUSTER      %s\nCONTROLLER   %d\nQUORUM       %s\n\n", info.ClusterID, info.Controller, info.Quorum)
			tw := newTable(out, "ID", "HOST", "PORT", "RACK", "CONTROLLER")
			for _, b := range info.Brokers {
				rack, ctl := "-", ""
				if b.Rack != nil {
					rack = *b.Rack
				}
				if b.Controller {
					ctl = "*"
				}
				tw.row(strconv.Itoa(int(b.ID)), b.Host, strconv.Itoa(int(b.Port)), rack, ctl)
			}
			return tw.flush()
		},
	}
}
