package main

import "github.com/spf13/cobra"

// sluice cluster decommission (issue #18): move every replica off a
// broker (cluster_plan.go plans, reassign_run.go runs).
func clusterDecommissionCmd(cf *clientFlags) *cobra.Command {
	return planCmd(cf, &cobra.Command{
		Use:   "decommission",
		Short: "Move every replica off a broker so that it can be shut down for good",
		Long: `Empty a broker before it leaves the cluster.

Every replica the broker holds moves to the registered broker with the fewest
replicas that the partition does not have yet, preferring one on a rack the
partition does not use; where the broker was the preferred leader, the
replica leading the fewest partitions becomes the first. The broker may be
running or down (a copy comes from the partition's leader). When some
partition's replication factor is more than the other registered brokers can
hold, nothing is submitted and the command fails naming those partitions.
The plan is submitted as one AlterPartitionReassignments and followed as by
"sluice topic reassign --verify" (--wait until it completes); --throttle and
--dry-run as for add-broker. Once complete, the broker holds no partition
and can be stopped, then unregistered with "sluice cluster unregister".`,
		Example: `  sluice cluster decommission --broker 3 --dry-run
  sluice cluster decommission --broker 3 --wait`,
	}, planDecommission)
}
