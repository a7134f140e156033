package main

import "github.com/spf13/cobra"

// sluice cluster add-broker (issue #18): move a share of the replicas
// onto a new broker (cluster_plan.go plans, reassign_run.go runs).
func clusterAddBrokerCmd(cf *clientFlags) *cobra.Command {
	return planCmd(cf, &cobra.Command{
		Use:   "add-broker",
		Short: "Move a share of the partitions' replicas onto a newly started broker",
		Long: `Balance replicas onto a broker that was just added to the cluster.

The broker must be running and registered (sluice format, then sluice serve
with its node id). The plan moves one replica at a time from the broker
holding the most to the new one, until the new broker holds its share of
every replica (their total over the registered brokers), never putting two
replicas of a partition on one rack when they were on distinct racks, and
makes it the preferred leader of its share of partitions (the current
leader's replica is replaced there, so leadership moves once the copy is in
sync). It is submitted as one AlterPartitionReassignments, and its progress
is printed as by "sluice topic reassign --verify"; --wait follows it to the
end. --throttle limits the copy as "sluice topic reassign --throttle" does;
the throttles are removed once every move is complete. --dry-run prints the
plan in kafka-reassign-partitions' JSON format (for
"sluice topic reassign --reassignment-json-file") and changes nothing.`,
		Example: `  sluice cluster add-broker --broker 4 --dry-run > plan.json
  sluice cluster add-broker --broker 4 --throttle 50000000 --wait`,
	}, planAddBroker)
}
