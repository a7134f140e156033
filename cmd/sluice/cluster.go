package main

// sluice cluster: the brokers and controller, and broker configs.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/api"
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
	cmd.AddCommand(clusterAddBrokerCmd(cf), clusterDecommissionCmd(cf), clusterUnregisterCmd(cf), clusterFeaturesCmd(cf))
	return cmd
}

// clusterInfo is what `sluice cluster info` shows.
type clusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Quorum     quorumInfo   `json:"quorum"`
	Brokers    []brokerInfo `json:"brokers"`
	Partitions partitionSum `json:"partitions"`
}

// partitionSum counts the cluster's partitions (internal topics included).
type partitionSum struct {
	Total           int `json:"total"`
	UnderReplicated int `json:"under_replicated"` // ISR smaller than the replica set
	Offline         int `json:"offline"`          // no leader
}

// quorumInfo is the metadata quorum as DescribeQuorum reports it.
type quorumInfo struct {
	Leader        int32       `json:"leader"`
	LeaderEpoch   int32       `json:"leader_epoch"`
	HighWatermark int64       `json:"high_watermark"`
	Voters        []voterInfo `json:"voters"`
	Observers     []int32     `json:"observers"`
}

type voterInfo struct {
	ID           int32 `json:"id"`
	LogEndOffset int64 `json:"log_end_offset"`
	Lag          int64 `json:"lag"`
}

// Broker states in `sluice cluster info`.
const (
	brokerRunning       = "running"        // registered and unfenced
	brokerFenced        = "fenced"         // registered, fenced: leads and serves nothing
	brokerShuttingDown  = "shutting down"  // in controlled shutdown: its leaderships are moving away
	brokerNotRegistered = "not registered" // in the quorum, never registered or gone
)

type brokerInfo struct {
	ID         int32   `json:"id"`
	Host       string  `json:"host"`
	Port       int32   `json:"port"`
	Rack       *string `json:"rack"`
	Controller bool    `json:"controller"`
	State      string  `json:"state"`
	// Leaders: partitions it leads; Replicas: partitions it hosts;
	// UnderReplicated: partitions it leads whose ISR is short.
	Leaders         int `json:"leaders"`
	Replicas        int `json:"replicas"`
	UnderReplicated int `json:"under_replicated"`
}

func clusterInfoCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Show the cluster id, the active controller, the quorum and each broker's state and partitions",
		Long: `Show the cluster: its id, the active controller, the metadata quorum,
and per broker its state (running, shutting down, fenced, or not registered: a quorum
member no broker registration names), the partitions it leads and hosts
and how many it leads are under-replicated (ISR smaller than the replicas).
Brokers come from DescribeCluster with fenced brokers included (v2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, ctx, done, err := cf.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			info, err := gatherClusterInfo(ctx, cl)
			if err != nil {
				return cf.clientErr(ctx, "describe the cluster", err)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, info)
			}
			return printClusterInfo(out, info)
		},
	}
}

// gatherClusterInfo asks DescribeCluster (fenced brokers included),
// DescribeQuorum and Metadata of every topic.
func gatherClusterInfo(ctx context.Context, cl *kgo.Client) (*clusterInfo, error) {
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.IncludeFencedBrokers = true
	dc, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(dc.ErrorCode); err != nil {
		return nil, err
	}
	q, err := describeQuorum(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe the metadata quorum: %w", err)
	}
	md, err := kadm.NewClient(cl).Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	info := &clusterInfo{ClusterID: dc.ClusterID, Controller: dc.ControllerID, Quorum: q, Brokers: []brokerInfo{}}
	byID := map[int32]*brokerInfo{}
	add := func(b brokerInfo) {
		b.Controller = b.ID == dc.ControllerID
		info.Brokers = append(info.Brokers, b)
	}
	for _, b := range dc.Brokers {
		st := brokerRunning
		switch {
		case b.IsFenced:
			st = brokerFenced
		case api.InControlledShutdown(&b):
			st = brokerShuttingDown
		}
		add(brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, State: st})
	}
	known := func(id int32) bool {
		return slices.ContainsFunc(info.Brokers, func(b brokerInfo) bool { return b.ID == id })
	}
	for _, v := range q.Voters {
		if !known(v.ID) {
			add(brokerInfo{ID: v.ID, Port: -1, State: brokerNotRegistered})
		}
	}
	for _, id := range q.Observers {
		if !known(id) {
			add(brokerInfo{ID: id, Port: -1, State: brokerNotRegistered})
		}
	}
	slices.SortFunc(info.Brokers, func(a, b brokerInfo) int { return int(a.ID - b.ID) })
	for i := range info.Brokers {
		byID[info.Brokers[i].ID] = &info.Brokers[i]
	}
	for _, td := range md.Topics {
		for _, p := range td.Partitions {
			info.Partitions.Total++
			urp := len(p.ISR) < len(p.Replicas)
			if urp {
				info.Partitions.UnderReplicated++
			}
			if p.Leader < 0 {
				info.Partitions.Offline++
			} else if b := byID[p.Leader]; b != nil {
				b.Leaders++
				if urp {
					b.UnderReplicated++
				}
			}
			for _, r := range p.Replicas {
				if b := byID[r]; b != nil {
					b.Replicas++
				}
			}
		}
	}
	return info, nil
}

func printClusterInfo(out io.Writer, info *clusterInfo) error {
	q := info.Quorum
	voters := make([]string, len(q.Voters))
	for i, v := range q.Voters {
		voters[i] = fmt.Sprintf("%d (lag %d)", v.ID, v.Lag)
	}
	fmt.Fprintf(out, "CLUSTER      %s\nCONTROLLER   %d\nQUORUM       leader %d, epoch %d, high watermark %d, voters %s\n",
		info.ClusterID, info.Controller, q.Leader, q.LeaderEpoch, q.HighWatermark, strings.Join(voters, ", "))
	fmt.Fprintf(out, "PARTITIONS   %d, %d under-replicated, %d offline\n\n",
		info.Partitions.Total, info.Partitions.UnderReplicated, info.Partitions.Offline)
	tw := newTable(out, "ID", "HOST", "PORT", "RACK", "STATE", "LEADERS", "REPLICAS", "UNDER-REPLICATED", "CONTROLLER")
	for _, b := range info.Brokers {
		host, port, rack, ctl := b.Host, strconv.Itoa(int(b.Port)), "-", ""
		if b.State == brokerNotRegistered {
			host, port = "-", "-"
		}
		if b.Rack != nil {
			rack = *b.Rack
		}
		if b.Controller {
			ctl = "*"
		}
		tw.row(strconv.Itoa(int(b.ID)), host, port, rack, b.State, strconv.Itoa(b.Leaders), strconv.Itoa(b.Replicas),
			strconv.Itoa(b.UnderReplicated), ctl)
	}
	return tw.flush()
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
	q := quorumInfo{Leader: rp.LeaderID, LeaderEpoch: rp.LeaderEpoch, HighWatermark: rp.HighWatermark, Voters: []voterInfo{}, Observers: []int32{}}
	for _, o := range rp.Observers {
		q.Observers = append(q.Observers, o.ReplicaID)
	}
	for _, v := range rp.CurrentVoters {
		q.Voters = append(q.Voters, voterInfo{ID: v.ReplicaID, LogEndOffset: v.LogEndOffset, Lag: rp.HighWatermark - v.LogEndOffset})
	}
	return q, nil
}
