package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestUnregisterBrokerRequest: UnregisterBroker (key 64) needs ALTER on
// the cluster (CLUSTER_AUTHORIZATION_FAILED before the id is looked at);
// allowed, an id no broker registered is BROKER_ID_NOT_REGISTERED and the
// broker itself stays registered. The removal itself is tested by the
// controller's TestUnregisterBroker and test/cluster's.
func TestUnregisterBrokerRequest(t *testing.T) {
	unregister := func(addr string, id int32) int16 {
		t.Helper()
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		resp, err := req.RequestWith(testCtx(t, 15*time.Second), newClient(t, addr))
		if err != nil {
			t.Fatalf("unregister broker %d: %v", id, err)
		}
		return resp.ErrorCode
	}

	// No ACL at all: refused, even for an id that does not exist.
	locked := startBroker(t, withAuthorizer())
	if code := unregister(locked.Addr(), 99); code != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("unregister without ALTER on the cluster: %v", kerr.ErrorForCode(code))
	}

	open := startBroker(t)
	if code := unregister(open.Addr(), 99); code != kerr.BrokerIDNotRegistered.Code {
		t.Fatalf("unregister of an unknown id: %v", kerr.ErrorForCode(code))
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), newClient(t, open.Addr()))
	if err != nil || len(resp.Brokers) != 1 {
		t.Fatalf("describe cluster after a refused unregister: %v %+v", err, resp)
	}
}
