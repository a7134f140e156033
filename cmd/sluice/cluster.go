package main

// sluice cluster: the brokers and controller, and broker configs.

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	cmd.AddCommand(clusterAddBrokerCmd(cf), clusterDecommissionCmd(cf))
	return cmd
}

// clusterInfo is what `sluice cluster info` shows.
type clusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Quorum     quorumInfo   `json:"quorum"`
	Brokers    []brokerInfo `json:"brokers"`
}

// quorumInfo is the metadata quorum as DescribeQuorum reports it.
type quorumInfo struct {
	Leader        int32       `json:"leader"`
	LeaderEpoch   int32       `json:"leader_epoch"`
	HighWatermark int64       `json:"high_watermark"`
	Voters        []voterInfo `json:"voters"`
}

type voterInfo struct {
	ID           int32 `json:"id"`
	LogEndOffset int64 `json:"log_end_offset"`
	Lag          int64 `json:"lag"`
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
			cl, ctx, done, err := cf.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			adm := kadm.NewClient(cl)
			md, err := adm.BrokerMetadata(ctx)
			if err != nil {
				return cf.clientErr(ctx, "cluster metadata", err)
			}
			q, err := describeQuorum(ctx, cl)
			if err != nil {
				return cf.clientErr(ctx, "describe the metadata quorum", err)
			}
			info := clusterInfo{ClusterID: md.Cluster, Controller: md.Controller, Quorum: q, Brokers: []brokerInfo{}}
			for _, b := range md.Brokers {
				info.Brokers = append(info.Brokers, brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack,
					Controller: b.NodeID == md.Controller})
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, info)
			}
			voters := make([]string, len(q.Voters))
			for i, v := range q.Voters {
				voters[i] = fmt.Sprintf("%d (lag %d)", v.ID, v.Lag)
			}
			fmt.Fprintf(out, "CLUSTER      %s\nCONTROLLER   %d\nQUORUM       leader %d, epoch %d, high watermark %d, voters %s\n\n",
				info.ClusterID, info.Controller, q.Leader, q.LeaderEpoch, q.HighWatermark, strings.Join(voters, ", "))
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

// describeQuorum asks for the metadata quorum (DescribeQuorum, which kadm
// does not wrap).
func describeQuorum(ctx context.Context, cl *kgo.Client) (quorumInfo, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return quorumInfo{}, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return quorumInfo{}, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return quorumInfo{}, fmt.Errorf("unexpected DescribeQuorum answer")
	}
	rp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		return quorumInfo{}, err
	}
	q := quorumInfo{Leader: rp.LeaderID, LeaderEpoch: rp.LeaderEpoch, HighWatermark: rp.HighWatermark, Voters: []voterInfo{}}
	for _, v := range rp.CurrentVoters {
		q.Voters = append(q.Voters, voterInfo{ID: v.ReplicaID, LogEndOffset: v.LogEndOffset, Lag: rp.HighWatermark - v.LogEndOffset})
	}
	return q, nil
}
