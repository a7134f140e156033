package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignRun is what `topic reassign`, `cluster add-broker` and
// `cluster decommission` do once they know the partitions: set the
// replication throttles, submit the reassignment, then print its
// progress once (--verify) or until it completes (--wait), removing the
// throttles once every partition is complete, as kafka-reassign-partitions
// --verify does (and at once on --cancel).
type reassignRun struct {
	req               kadm.AlterPartitionAssignmentsReq // nil: submit nothing
	set               kadm.TopicsSet                    // the partitions to follow
	cancel            bool                              // req cancels
	verify, wait      bool
	interval          time.Duration
	throttle          int64 // bytes/s for the moves; < 0: none
	preserveThrottles bool  // keep the throttles once complete
}

func (r *reassignRun) run(ctx context.Context, cf *clientFlags, cl *kgo.Client, out io.Writer) error {
	adm := kadm.NewClient(cl)
	if len(r.req) > 0 {
		if r.throttle >= 0 && !r.cancel {
			msg, err := setReassignThrottles(ctx, cl, r.req, r.throttle)
			if err != nil {
				return cf.clientErr(ctx, "set replication throttles", err)
			}
			if !cf.wantJSON() {
				fmt.Fprintln(out, msg)
			}
		}
		resps, err := adm.AlterPartitionAssignments(ctx, r.req)
		if err != nil {
			return cf.clientErr(ctx, "reassign partitions", err)
		}
		for _, p := range resps.Sorted() {
			if p.Err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("reassign %s-%d", p.Topic, p.Partition), withMessage(p.Err, p.ErrMessage))
			}
		}
		if !cf.wantJSON() {
			what := "Reassignment started"
			if r.cancel {
				what = "Reassignment cancelled"
			}
			fmt.Fprintf(out, "%s for %d partitions.\n", what, len(resps.Sorted()))
		}
		if r.cancel && !r.preserveThrottles {
			// As kafka-reassign-partitions --cancel: the moves'
			// throttles go with them.
			msg, err := clearReassignThrottles(ctx, cl, r.set.Topics())
			if err != nil {
				return cf.clientErr(ctx, "remove replication throttles", err)
			}
			if !cf.wantJSON() {
				fmt.Fprintln(out, msg)
			}
		}
	}
	if !r.verify && !r.wait {
		return nil
	}
	targets := r.req
	if r.cancel {
		targets = nil
	}
	for {
		states, err := reassignProgress(ctx, cl, r.set, targets)
		if err != nil {
			return cf.clientErr(ctx, "reassignment progress", err)
		}
		complete := !slices.ContainsFunc(states, func(s reassignState) bool { return !s.Complete })
		if complete && !r.preserveThrottles {
			msg, err := clearReassignThrottles(ctx, cl, r.set.Topics())
			if err != nil {
				return cf.clientErr(ctx, "remove replication throttles", err)
			}
			if !cf.wantJSON() {
				defer fmt.Fprintln(out, msg)
			}
		}
		if !r.wait || complete {
			return printReassign(out, cf.wantJSON(), states)
		}
		if !cf.wantJSON() {
			_ = printReassign(out, false, states)
		}
		select {
		case <-ctx.Done():
			return cf.clientErr(ctx, "wait for the reassignment", ctx.Err())
		case <-time.After(r.interval):
		}
	}
}

// setReassignThrottles throttles the moves of req at rate bytes/s as
// kafka-reassign-partitions --throttle does: the topics'
// leader.replication.throttled.replicas name each moving partition's
// current replicas (they send the copy), follower.replication.
// throttled.replicas the replicas being added (they fetch it), and
// every broker of either set gets leader.replication.throttled.rate and
// follower.replication.throttled.rate. In-sync replicas are never held
// back, so the throttle only slows the copy.
func setReassignThrottles(ctx context.Context, cl *kgo.Client, req kadm.AlterPartitionAssignmentsReq, rate int64) (string, error) {
	current, err := currentReplicas(ctx, cl, req)
	if err != nil {
		return "", err
	}
	brokers := map[int32]bool{}
	adm := kadm.NewClient(cl)
	var topics []string
	for topic := range req {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	for _, topic := range topics {
		var leader, follower []string
		parts := req[topic]
		var idx []int32
		for p := range parts {
			idx = append(idx, p)
		}
		slices.Sort(idx)
		for _, p := range idx {
			cur := current[topic][p]
			for _, b := range cur {
				leader = append(leader, fmt.Sprintf("%d:%d", p, b))
				brokers[b] = true
			}
			for _, b := range parts[p] {
				brokers[b] = true
				if !slices.Contains(cur, b) {
					follower = append(follower, fmt.Sprintf("%d:%d", p, b))
				}
			}
		}
		lv, fv := strings.Join(leader, ","), strings.Join(follower, ",")
		alters := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "leader.replication.throttled.replicas", Value: &lv}}
		if fv != "" {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: "follower.replication.throttled.replicas", Value: &fv})
		}
		if err := alterOK(adm.AlterTopicConfigs(ctx, alters, topic)); err != nil {
			return "", fmt.Errorf("topic %s: %w", topic, err)
		}
	}
	v := strconv.FormatInt(rate, 10)
	ids := sortedIDs(brokers)
	for _, id := range ids {
		alters := []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "leader.replication.throttled.rate", Value: &v},
			{Op: kadm.SetConfig, Name: "follower.replication.throttled.rate", Value: &v},
		}
		if err := alterOK(adm.AlterBrokerConfigs(ctx, alters, id)); err != nil {
			return "", fmt.Errorf("broker %d: %w", id, err)
		}
	}
	return fmt.Sprintf("Throttle of %d bytes/s set on brokers %s for the moves of topics %s.", rate, joinIDs(ids), strings.Join(topics, ",")), nil
}

// clearReassignThrottles removes the throttle rates from every broker
// and the throttled-replicas configs from topics, as
// kafka-reassign-partitions --verify does once a reassignment is
// complete.
func clearReassignThrottles(ctx context.Context, cl *kgo.Client, topics []string) (string, error) {
	adm := kadm.NewClient(cl)
	md, err := freshMetadata(ctx, cl, nil)
	if err != nil {
		return "", err
	}
	var ids []int32
	for _, b := range md.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	for _, id := range ids {
		alters := []kadm.AlterConfig{
			{Op: kadm.DeleteConfig, Name: "leader.replication.throttled.rate"},
			{Op: kadm.DeleteConfig, Name: "follower.replication.throttled.rate"},
		}
		if err := alterOK(adm.AlterBrokerConfigs(ctx, alters, id)); err != nil {
			return "", fmt.Errorf("broker %d: %w", id, err)
		}
	}
	for _, topic := range topics {
		alters := []kadm.AlterConfig{
			{Op: kadm.DeleteConfig, Name: "leader.replication.throttled.replicas"},
			{Op: kadm.DeleteConfig, Name: "follower.replication.throttled.replicas"},
		}
		if err := alterOK(adm.AlterTopicConfigs(ctx, alters, topic)); err != nil {
			return "", fmt.Errorf("topic %s: %w", topic, err)
		}
	}
	return fmt.Sprintf("Throttles removed from brokers %s and topics %s.", joinIDs(ids), strings.Join(topics, ",")), nil
}

func alterOK(resps kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return withMessage(r.Err, r.ErrMessage)
		}
	}
	return nil
}

// currentReplicas is the replica set of each partition of req now.
func currentReplicas(ctx context.Context, cl *kgo.Client, req kadm.AlterPartitionAssignmentsReq) (map[string]map[int32][]int32, error) {
	var topics []string
	for t := range req {
		topics = append(topics, t)
	}
	md, err := freshMetadata(ctx, cl, topics)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32][]int32{}
	for _, t := range md.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("topic %s: %w", *t.Topic, err)
		}
		out[*t.Topic] = map[int32][]int32{}
		for _, p := range t.Partitions {
			out[*t.Topic][p.Partition] = p.Replicas
		}
	}
	return out, nil
}

// freshMetadata asks for topics (nil: every topic) with a new Metadata
// request, not kadm's cached one.
func freshMetadata(ctx context.Context, cl *kgo.Client, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req.RequestWith(ctx, cl)
}

func sortedIDs(m map[int32]bool) []int32 {
	var out []int32
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}
