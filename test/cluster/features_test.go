package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// onNode sends req to nd itself.
func onNode(t testing.TB, nd *node, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return cl.SeedBrokers()[0].Request(ctx(t), req)
}

// TestUpdateFeaturesForwarded: UpdateFeatures sent to a broker that is not
// the active controller is forwarded to it (as Kafka's brokers do), and
// every broker then reports the new finalized level in ApiVersions.
func TestUpdateFeaturesForwarded(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	_, others := c.quorumLeaderAndOthers(t)

	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.TimeoutMillis = 10000
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType = "share.version", 0, 2
	req.FeatureUpdates = append(req.FeatureUpdates, u)
	resp, err := onNode(t, others[0], req)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*kmsg.UpdateFeaturesResponse); r.ErrorCode != 0 {
		t.Fatalf("UpdateFeatures through broker %d: %s %v", others[0].id, kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	for _, nd := range c.nodes {
		waitFor(t, 20*time.Second, fmt.Sprintf("broker %d reports share.version 0", nd.id), func() error {
			resp, err := onNode(t, nd, kmsg.NewPtrApiVersionsRequest())
			if err != nil {
				return err
			}
			for _, f := range resp.(*kmsg.ApiVersionsResponse).FinalizedFeatures {
				if f.Name == "share.version" {
					return fmt.Errorf("share.version finalized at %d", f.MaxVersionLevel)
				}
			}
			return nil
		})
	}
}
