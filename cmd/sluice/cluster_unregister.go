package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sluice cluster unregister (issue #18): the last step of removing a
// broker, after decommission and stopping it (Kafka's
// kafka-cluster.sh unregister).
func clusterUnregisterCmd(cf *clientFlags) *cobra.Command {
	var broker int32
	cmd := &cobra.Command{
		Use:   "unregister",
		Short: "Remove a stopped broker's registration from the cluster",
		Long: `Remove a broker's registration (UnregisterBroker), the last step of taking
a broker out of the cluster: decommission it (--wait), stop it, then
unregister it. It is then no longer listed by "sluice cluster info",
Metadata or DescribeCluster, and its id may be used by a new broker.

The broker leaves the ISR and leadership of every partition that still has
it (the last in-sync replica of a partition stays in its ISR), and such
partitions keep it in their replica lists as an offline replica: decommission
first so that none does. As in Kafka, a broker that is still running may be
unregistered; its heartbeats are then refused until it restarts and
registers again. ALTER on CLUSTER is required.`,
		Example: `  sluice cluster decommission --broker 3 --wait
  # stop broker 3, then:
  sluice cluster unregister --broker 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if broker < 0 {
				return fmt.Errorf("give --broker")
			}
			cl, ctx, done, err := cf.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			req := kmsg.NewPtrUnregisterBrokerRequest()
			req.BrokerID = broker
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return cf.clientErr(ctx, "unregister broker", err)
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
				if errors.Is(err, kerr.BrokerIDNotRegistered) {
					return fmt.Errorf("unregister broker: broker %d is not registered (%w)", broker, err)
				}
				if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
					return fmt.Errorf("unregister broker %d: %w: %s", broker, err, *resp.ErrorMessage)
				}
				return fmt.Errorf("unregister broker %d: %w", broker, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Broker %d unregistered.\n", broker)
			return nil
		},
	}
	cmd.Flags().Int32Var(&broker, "broker", -1, "the id of the broker to unregister")
	return cmd
}
