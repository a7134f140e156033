package main

// Share groups (KIP-932) in `sluice group describe` and `reset-offsets`:
// DescribeGroups reports a share group Dead (or GROUP_ID_NOT_FOUND), so
// these commands ask ShareGroupDescribe when it finds no classic or
// consumer group, and then read and move the share-partition start offsets
// (DescribeShareGroupOffsets, AlterShareGroupOffsets) instead of committed
// offsets, as kafka-share-groups.sh does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// shareDescription is what `sluice group describe` shows for a share
// group. Its keys follow groupDescription's; Protocol is the assignor.
type shareDescription struct {
	Group           string              `json:"group"`
	Type            string              `json:"type"` // "share"
	GroupEpoch      int32               `json:"group_epoch"`
	AssignmentEpoch int32               `json:"assignment_epoch"`
	State           string              `json:"state"`
	ProtocolType    string              `json:"protocol_type"` // "share"
	Protocol        string              `json:"protocol"`      // the assignor
	Members         []memberDescription `json:"members"`
	Partitions      []sharePartition    `json:"partitions"`
}

// sharePartition is one share-partition of the group: one with state, or
// one assigned to a member. StartOffset, LeaderEpoch and Lag are null while
// the share-partition has no state (or the broker does not say).
type sharePartition struct {
	Topic       string   `json:"topic"`
	Partition   int32    `json:"partition"`
	StartOffset *int64   `json:"start_offset"`
	LeaderEpoch *int32   `json:"leader_epoch"`
	Lag         *int64   `json:"lag"`
	Owners      []string `json:"owners"` // members assigned it; several may share it
	Error       string   `json:"error,omitempty"`
}

// lookupShareGroup is ShareGroupDescribe of group; ok is false when the
// group is not a share group (GROUP_ID_NOT_FOUND) or the broker has no
// share groups. err is set only for failures that say neither.
func lookupShareGroup(ctx context.Context, adm *kadm.Client, group string) (kadm.DescribedShareGroup, bool, error) {
	ds, err := adm.DescribeShareGroups(ctx, group)
	if err != nil {
		if ctx.Err() != nil {
			return kadm.DescribedShareGroup{}, false, err
		}
		// A broker without ShareGroupDescribe (or refusing it): no share group.
		if errors.Is(err, kerr.UnsupportedVersion) || errors.Is(err, kerr.GroupIDNotFound) || isTooOld(err) {
			return kadm.DescribedShareGroup{}, false, nil
		}
		return kadm.DescribedShareGroup{}, false, err
	}
	d, ok := ds[group]
	switch {
	case !ok, errors.Is(d.Err, kerr.GroupIDNotFound):
		return kadm.DescribedShareGroup{}, false, nil
	case d.Err != nil:
		return kadm.DescribedShareGroup{}, false, d.Err
	}
	return d, true, nil
}

// isTooOld reports whether err is franz-go's "broker is too old" for a
// request the broker does not know.
func isTooOld(err error) bool {
	return strings.Contains(err.Error(), "broker is too old")
}

// describeShareGroup describes the share group d: its members and, per
// share-partition, the start offset and lag.
func describeShareGroup(ctx context.Context, adm *kadm.Client, d kadm.DescribedShareGroup) (*shareDescription, error) {
	offs, err := adm.DescribeShareGroupOffsets(ctx, d.GroupID)
	if err != nil {
		return nil, err
	}
	og, ok := offs[d.GroupID]
	if !ok {
		return nil, fmt.Errorf("no share group offsets returned")
	}
	if og.Err != nil {
		return nil, og.Err
	}
	sd := &shareDescription{
		Group: d.GroupID, Type: "share", GroupEpoch: d.GroupEpoch, AssignmentEpoch: d.AssignmentEpoch,
		State: d.GroupState, ProtocolType: "share", Protocol: d.Assignor,
		Members: []memberDescription{}, Partitions: []sharePartition{},
	}
	owners := map[string]map[int32][]string{}
	addOwner := func(t string, p int32, member string) {
		if owners[t] == nil {
			owners[t] = map[int32][]string{}
		}
		owners[t][p] = append(owners[t][p], member)
	}
	for _, m := range d.Members {
		epoch := m.MemberEpoch
		md := memberDescription{MemberID: m.MemberID, MemberEpoch: &epoch, ClientID: m.ClientID, Host: m.ClientHost, Assignments: []topicPartitions{}}
		for _, t := range sortedTopics(m.Assignment) {
			ps := slices.Sorted(maps.Keys(m.Assignment[t]))
			md.Assignments = append(md.Assignments, topicPartitions{Topic: t, Partitions: ps})
			for _, p := range ps {
				addOwner(t, p, m.MemberID)
			}
		}
		sd.Members = append(sd.Members, md)
	}

	parts := map[string]map[int32]bool{}
	add := func(t string, p int32) {
		if parts[t] == nil {
			parts[t] = map[int32]bool{}
		}
		parts[t][p] = true
	}
	og.Offsets.Each(func(o kadm.ShareOffset) { add(o.Topic, o.Partition) })
	for t, ps := range owners {
		for p := range ps {
			add(t, p)
		}
	}
	for _, t := range sortedTopics(parts) {
		for _, p := range slices.Sorted(maps.Keys(parts[t])) {
			sp := sharePartition{Topic: t, Partition: p, Owners: owners[t][p]}
			if sp.Owners == nil {
				sp.Owners = []string{}
			}
			if o, ok := og.Offsets.Lookup(t, p); ok {
				if o.Err != nil {
					sp.Error = o.Err.Error()
				} else {
					sp.StartOffset, sp.LeaderEpoch, sp.Lag = nonNeg(o.StartOffset), nonNeg(o.LeaderEpoch), nonNeg(o.Lag)
				}
			}
			sd.Partitions = append(sd.Partitions, sp)
		}
	}
	return sd, nil
}

// nonNeg is &v, or nil for Kafka's "unknown" (-1).
func nonNeg[T int32 | int64](v T) *T {
	if v < 0 {
		return nil
	}
	return &v
}

func printShareDescription(w io.Writer, d *shareDescription) error {
	tw := newTable(w, "GROUP", "TYPE", "STATE", "ASSIGNOR", "GROUP-EPOCH", "ASSIGNMENT-EPOCH", "MEMBERS")
	tw.row(d.Group, d.Type, d.State, dash(d.Protocol), strconv.Itoa(int(d.GroupEpoch)), strconv.Itoa(int(d.AssignmentEpoch)), strconv.Itoa(len(d.Members)))
	if err := tw.flush(); err != nil {
		return err
	}
	if len(d.Members) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w, "MEMBER-ID", "CLIENT-ID", "HOST", "EPOCH", "ASSIGNMENTS")
		for _, m := range d.Members {
			var as []string
			for _, a := range m.Assignments {
				as = append(as, a.Topic+":"+joinInts(a.Partitions))
			}
			tw.row(m.MemberID, dash(m.ClientID), dash(m.Host), optInt32(m.MemberEpoch), dash(strings.Join(as, " ")))
		}
		if err := tw.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	tw = newTable(w, "TOPIC", "PARTITION", "START-OFFSET", "LAG", "OWNERS")
	for _, p := range d.Partitions {
		tw.row(p.Topic, strconv.Itoa(int(p.Partition)), optInt(p.StartOffset), optInt(p.Lag), dash(strings.Join(p.Owners, ",")))
	}
	return tw.flush()
}

// shareNotEmpty is the message for resetting a share group with members,
// whether seen before the reset or as the broker's NON_EMPTY_GROUP.
func shareNotEmpty(state string, members int) error {
	what := "has members"
	if members > 0 {
		what = fmt.Sprintf("state %s, %d members", state, members)
	}
	return fmt.Errorf("share group is not empty (%s; NON_EMPTY_GROUP): its start offsets can only be reset while no consumer is in the group; stop its consumers first", what)
}

// shareStartOffsets are the share-partition start offsets of group on
// topic (only those with state, and not -1).
func shareStartOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	offs, err := adm.DescribeShareGroupOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	og := offs[group]
	if og.Err != nil {
		return nil, og.Err
	}
	out := map[int32]int64{}
	for p, o := range og.Offsets[topic] {
		if o.Err == nil && o.StartOffset >= 0 {
			out[p] = o.StartOffset
		}
	}
	return out, nil
}

// alterShareOffsets sets the start offsets of group (AlterShareGroupOffsets).
func alterShareOffsets(ctx context.Context, adm *kadm.Client, group string, os kadm.Offsets) error {
	resp, err := adm.AlterShareGroupOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if errors.Is(err, kerr.NonEmptyGroup) {
		return shareNotEmpty("", 0)
	}
	return err
}

// describeShareGroupNamed describes group if it is a share group, else
// returns errGroupNotFound.
func describeShareGroupNamed(ctx context.Context, adm *kadm.Client, group string) (*shareDescription, error) {
	d, ok, err := lookupShareGroup(ctx, adm, group)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errGroupNotFound
	}
	return describeShareGroup(ctx, adm, d)
}
