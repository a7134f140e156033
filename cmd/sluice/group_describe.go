package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupDescription is what `sluice group describe` shows.
type groupDescription struct {
	Group string `json:"group"`
	// Type is "classic" or "consumer" (KIP-848); a consumer group also
	// reports its group epoch, assignment epoch and assignor.
	Type            string              `json:"type"`
	GroupEpoch      *int32              `json:"group_epoch,omitempty"`
	AssignmentEpoch *int32              `json:"assignment_epoch,omitempty"`
	State           string              `json:"state"`
	ProtocolType    string              `json:"protocol_type"`
	Protocol        string              `json:"protocol"`
	Members         []memberDescription `json:"members"`
	Partitions      []partitionLag      `json:"partitions"`
}

type memberDescription struct {
	MemberID    string            `json:"member_id"`
	MemberEpoch *int32            `json:"member_epoch,omitempty"` // consumer groups`
	InstanceID  string            `json:"instance_id,omitempty"`
	ClientID    string            `json:"client_id"`
	Host        string            `json:"host"`
	Assignments []topicPartitions `json:"assignments"`
}

type topicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// partitionLag is one partition the group has committed or been assigned.
// Committed and Lag are null when the group has no committed offset there.
type partitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed"`
	End       int64  `json:"end"`
	Lag       *int64 `json:"lag"`
	Owner     string `json:"owner"` // member id, "" when unassigned
}

func groupDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's type (classic, consumer or share), state, members and their assignments, and per-partition progress: committed offset, end offset and lag, or a share group's start offset and lag",
		Long: `Show GROUP: its type, state, members and their assignments, and its
progress per partition.

For a classic or consumer (KIP-848) group the partitions are those with a
committed offset or an owner, with the committed offset, the end offset,
the lag and the owning member.

For a share group (KIP-932) it shows, as kafka-share-groups.sh --describe
does, the state, group epoch, assignment epoch and assignor, the members
(member epoch, client id, host, assigned partitions), and per
share-partition (those with state or assigned) the share-partition start
offset, the lag (records from the start offset to the high watermark not
yet acknowledged, as the broker reports it) and the members assigned it;
several members may share one partition. The JSON has the same keys as
for other groups, except that a partition has start_offset, leader_epoch,
lag and owners.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, ctx, done, err := cf.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			d, err := describeGroup(ctx, adm, args[0])
			if errors.Is(err, errGroupNotFound) {
				// No classic or consumer group: a share group?
				var sd *shareDescription
				if sd, err = describeShareGroupNamed(ctx, adm, args[0]); err == nil {
					if cf.wantJSON() {
						return printJSON(out, sd)
					}
					return printShareDescription(out, sd)
				}
			}
			if err != nil {
				return cf.clientErr(ctx, fmt.Sprintf("describe group %q", args[0]), err)
			}
			if cf.wantJSON() {
				return printJSON(out, d)
			}
			return printDescription(out, d)
		},
	}
}

var errGroupNotFound = errors.New("group does not exist")

func describeGroup(ctx context.Context, adm *kadm.Client, group string) (*groupDescription, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	g, ok := described[group]
	if !ok {
		return nil, fmt.Errorf("no description returned")
	}
	if errors.Is(g.Err, kerr.GroupIDNotFound) {
		return nil, errGroupNotFound // DescribeGroups v6+ (KIP-1043)
	}
	if g.Err != nil {
		return nil, g.Err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a group with members but no commits yet
	}
	if err != nil {
		return nil, err
	}
	if err := committed.Error(); err != nil {
		return nil, err
	}
	d := &groupDescription{Group: group, Type: "classic", State: g.State, ProtocolType: g.ProtocolType, Protocol: g.Protocol}
	epochs := map[string]int32{}
	if cg, ok := describeConsumerGroup(ctx, adm, group); ok {
		d.Type, d.State, d.Protocol = "consumer", cg.State, cg.AssignorName
		d.GroupEpoch, d.AssignmentEpoch = &cg.Epoch, &cg.AssignmentEpoch
		for _, m := range cg.Members {
			epochs[m.MemberID] = m.MemberEpoch
		}
	}
	owners := map[string]map[int32]string{}
	for _, m := range g.Members {
		md := memberDescription{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assignments: []topicPartitions{}}
		if e, ok := epochs[m.MemberID]; ok {
			md.MemberEpoch = &e
		}
		if m.InstanceID != nil {
			md.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := slices.Sorted(slices.Values(t.Partitions))
				md.Assignments = append(md.Assignments, topicPartitions{Topic: t.Topic, Partitions: ps})
				if owners[t.Topic] == nil {
					owners[t.Topic] = map[int32]string{}
				}
				for _, p := range ps {
					owners[t.Topic][p] = m.MemberID
				}
			}
			sort.Slice(md.Assignments, func(i, j int) bool { return md.Assignments[i].Topic < md.Assignments[j].Topic })
		}
		d.Members = append(d.Members, md)
	}
	if d.Members == nil {
		d.Members = []memberDescription{}
	}
	if (g.State == "Dead" || g.State == "") && len(committed) == 0 {
		return nil, errGroupNotFound // before v6: state Dead
	}

	// Every partition with a commit or an owner, with its end offset.
	parts := map[string]map[int32]bool{}
	add := func(t string, p int32) {
		if parts[t] == nil {
			parts[t] = map[int32]bool{}
		}
		parts[t][p] = true
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			add(o.Topic, o.Partition)
		}
	})
	for t, ps := range owners {
		for p := range ps {
			add(t, p)
		}
	}
	ends := kadm.ListedOffsets{}
	if len(parts) > 0 {
		if ends, err = adm.ListEndOffsets(ctx, sortedTopics(parts)...); err != nil {
			return nil, err
		}
	}
	d.Partitions = []partitionLag{}
	for _, t := range sortedTopics(parts) {
		for _, p := range slices.Sorted(maps.Keys(parts[t])) {
			pl := partitionLag{Topic: t, Partition: p, End: -1, Owner: owners[t][p]}
			if e, ok := ends.Lookup(t, p); ok && e.Err == nil {
				pl.End = e.Offset
			}
			if o, ok := committed.Lookup(t, p); ok && o.At >= 0 {
				at := o.At
				pl.Committed = &at
				if pl.End >= 0 {
					lag := max(pl.End-at, 0)
					pl.Lag = &lag
				}
			}
			d.Partitions = append(d.Partitions, pl)
		}
	}
	return d, nil
}

// describeConsumerGroup is ConsumerGroupDescribe (KIP-848) of group; ok is
// false for a classic group or a broker without the consumer protocol.
func describeConsumerGroup(ctx context.Context, adm *kadm.Client, group string) (kadm.DescribedConsumerGroup, bool) {
	cgs, err := adm.DescribeConsumerGroups(ctx, group)
	if err != nil {
		return kadm.DescribedConsumerGroup{}, false
	}
	cg, ok := cgs[group]
	return cg, ok && cg.Err == nil
}

func optInt32(v *int32) string {
	if v == nil {
		return "-"
	}
	return strconv.Itoa(int(*v))
}

func printDescription(w io.Writer, d *groupDescription) error {
	tw := newTable(w, "GROUP", "TYPE", "STATE", "PROTOCOL-TYPE", "PROTOCOL", "EPOCH", "MEMBERS")
	tw.row(d.Group, d.Type, d.State, dash(d.ProtocolType), dash(d.Protocol), optInt32(d.GroupEpoch), strconv.Itoa(len(d.Members)))
	if err := tw.flush(); err != nil {
		return err
	}
	if len(d.Members) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w, "MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "EPOCH", "ASSIGNMENTS")
		for _, m := range d.Members {
			var as []string
			for _, a := range m.Assignments {
				as = append(as, a.Topic+":"+joinInts(a.Partitions))
			}
			tw.row(m.MemberID, dash(m.InstanceID), dash(m.ClientID), dash(m.Host), optInt32(m.MemberEpoch), dash(strings.Join(as, " ")))
		}
		if err := tw.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	tw = newTable(w, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER")
	for _, p := range d.Partitions {
		tw.row(p.Topic, strconv.Itoa(int(p.Partition)), optInt(p.Committed), optInt(&p.End), optInt(p.Lag), dash(p.Owner))
	}
	return tw.flush()
}

// optInt shows nil or a negative value as "-".
func optInt(v *int64) string {
	if v == nil || *v < 0 {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

func joinInts(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
