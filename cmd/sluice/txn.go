package main

// sluice txn: list and describe transactions through kadm
// (ListTransactions, DescribeTransactions).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, txnCmd) }

func txnCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "List and describe transactions",
		Long: `Inspect transactional producers on a running broker.

The brokers come from --brokers, else $` + brokersEnv + `, else ` + defaultBrokers + `.
Output is a table, or JSON with --format json.`,
		Example: `  sluice txn list
  sluice txn list --state Ongoing
  sluice txn describe my-txn-id --format json`,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(txnListCmd(cf), txnDescribeCmd(cf))
	return cmd
}

type listedTxn struct {
	TransactionalID string `json:"transactional_id"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
	Coordinator     int32  `json:"coordinator"`
}

func txnListCmd(cf *clientFlags) *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List transactional ids with their producer id and state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			listed, err := adm.ListTransactions(ctx, nil, states)
			if err != nil {
				return cf.clientErr(ctx, "list transactions", err)
			}
			rows := []listedTxn{}
			for _, l := range listed.Sorted() {
				rows = append(rows, listedTxn{l.TxnID, l.ProducerID, l.State, l.Coordinator})
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "TRANSACTIONAL-ID", "PRODUCER-ID", "STATE", "COORDINATOR")
			for _, r := range rows {
				tw.row(r.TransactionalID, strconv.FormatInt(r.ProducerID, 10), r.State, strconv.Itoa(int(r.Coordinator)))
			}
			return tw.flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only transactions in these states (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort)")
	return cmd
}

type describedTxn struct {
	TransactionalID string           `json:"transactional_id"`
	State           string           `json:"state"`
	ProducerID      int64            `json:"producer_id"`
	ProducerEpoch   int16            `json:"producer_epoch"`
	TimeoutMs       int32            `json:"timeout_ms"`
	StartTimestamp  int64            `json:"start_timestamp"`
	Partitions      map[string][]int `json:"partitions"`
	Error           string           `json:"error,omitempty"`
}

func txnDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe [TRANSACTIONAL-ID...]",
		Short: "Describe transactions: state, producer id and epoch, timeout, partitions (all when none named)",
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			described, err := adm.DescribeTransactions(ctx, args...)
			if err != nil {
				return cf.clientErr(ctx, "describe transactions", err)
			}
			rows := []describedTxn{}
			for _, d := range described.Sorted() {
				row := describedTxn{
					TransactionalID: d.TxnID, State: d.State, ProducerID: d.ProducerID,
					ProducerEpoch: d.ProducerEpoch, TimeoutMs: d.TimeoutMillis,
					StartTimestamp: d.StartTimestamp, Partitions: map[string][]int{},
				}
				if d.Err != nil {
					row.Error = d.Err.Error()
				}
				for topic, ps := range d.Topics {
					for p := range ps {
						row.Partitions[topic] = append(row.Partitions[topic], int(p))
					}
				}
				rows = append(rows, row)
			}
			out := cmd.OutOrStdout()
			if cf.wantJSON() {
				return printJSON(out, rows)
			}
			tw := newTable(out, "TRANSACTIONAL-ID", "STATE", "PRODUCER-ID", "EPOCH", "TIMEOUT", "STARTED", "PARTITIONS")
			for _, r := range rows {
				started := "-"
				if r.StartTimestamp > 0 {
					started = time.UnixMilli(r.StartTimestamp).UTC().Format(time.RFC3339)
				}
				state := r.State
				if r.Error != "" {
					state = "error: " + r.Error
				}
				tw.row(r.TransactionalID, dash(state), strconv.FormatInt(r.ProducerID, 10), strconv.Itoa(int(r.ProducerEpoch)),
					fmt.Sprintf("%dms", r.TimeoutMs), started, partitionsCell(r.Partitions))
			}
			return tw.flush()
		},
	}
}

// partitionsCell renders topic partitions as "t:0,1 u:3", in topic order.
func partitionsCell(m map[string][]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, topic := range sortedTopics(m) {
		ps := slices.Sorted(slices.Values(m[topic]))
		strs := make([]string, len(ps))
		for i, p := range ps {
			strs[i] = strconv.Itoa(p)
		}
		parts = append(parts, topic+":"+strings.Join(strs, ","))
	}
	return strings.Join(parts, " ")
}
