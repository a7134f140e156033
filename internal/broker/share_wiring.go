package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/interbroker"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/share"
)

// Share groups (KIP-932) in a cluster: the share Manager serves the
// share-partitions of the data partitions this broker leads and reads and
// writes their state through the share coordinator leading each key's
// __share_group_state partition: this broker's own (internal/share's
// Coordinator, following the metadata image) or another broker's, over
// its own inter-broker client (b.shareNet).

// startShare builds the share Manager, its share coordinator and its
// inter-broker client, and makes them follow the metadata image.
func (b *Broker) startShare() error {
	listener, err := b.cfg.InterBrokerListenerName()
	if err != nil {
		return err
	}
	ib, err := interbroker.New(interbroker.Config{NodeID: b.cfg.NodeID, Resolve: endpointResolver(b.meta, listener),
		Logger: b.logger.With("component", "share-interbroker"), Dial: b.peers.broker, SASL: b.peers.brokerSASL})
	if err != nil {
		return err
	}
	cfg := shareConfig(b.cfg)
	cfg.NodeID = b.cfg.NodeID
	cfg.Remote = &shareRemote{meta: b.meta, ib: ib}
	m := share.New(cfg, b.coord, share.NewBackend(b.meta, b.ctl, b.parts, shareStateTopic(b.cfg)), b.logger.With("component", "share"))
	if err := m.Start(); err != nil {
		ib.Close()
		return fmt.Errorf("share-partition state: %w", err)
	}
	b.share, b.shareNet = m, ib
	// After the partitions applied the image (an earlier subscriber), so
	// a state partition this broker now leads is open for its load.
	b.meta.Subscribe(func(_, img *metadata.Image) { m.OnImage(img) })
	m.OnImage(b.meta.Image())
	return nil
}

// closeShare stops the share Manager (its writes go to partitions and
// peers), then its client.
func (b *Broker) closeShare() {
	if b.share != nil {
		b.share.Close()
	}
	if b.shareNet != nil {
		b.shareNet.Close()
	}
}

// shareRemote is share.Remote over the metadata image and the
// inter-broker client.
type shareRemote struct {
	meta *metadata.Store
	ib   *interbroker.Client
}

func (r *shareRemote) StateLeader(i int32) int32 {
	t, ok := r.meta.Image().Topic(share.StateTopic)
	if !ok || i < 0 || int(i) >= len(t.Partitions) {
		return -1
	}
	return t.Partitions[i].Leader
}

func (r *shareRemote) Request(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	return r.ib.Request(ctx, node, req)
}

func (r *shareRemote) Topics() map[[16]byte]int32 {
	out := map[[16]byte]int32{}
	for id, t := range r.meta.Image().TopicsByID {
		if !controller.IsInternalTopic(t.Name) {
			out[id] = int32(len(t.Partitions))
		}
	}
	return out
}

// HighWatermark asks the partition's leader (ListOffsets, latest,
// read_uncommitted: the high watermark).
func (r *shareRemote) HighWatermark(topicID [16]byte, p int32) int64 {
	t := r.meta.Image().TopicsByID[metadata.UUID(topicID)]
	if t == nil || p < 0 || int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
		return -1
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = t.Name
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.ib.Request(ctx, t.Partitions[p].Leader, req)
	if err != nil {
		return -1
	}
	for _, t := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, lp := range t.Partitions {
			if lp.Partition == p && lp.ErrorCode == 0 {
				return lp.Offset
			}
		}
	}
	return -1
}
