package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(57, 0, 2, handleUpdateFeatures) }

// handleUpdateFeatures finalizes feature levels through the controller
// (FeatureLevelRecords), ALTER on the cluster required. As in Kafka, the
// answer's top-level error is the outcome; v0-1 also list every feature
// with it when it is NONE, v2 lists none. v0's AllowDowngrade is a safe
// downgrade, and a level below 1 asks for a downgrade to 0.
func handleUpdateFeatures(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.UpdateFeaturesRequest)
	resp := kmsg.NewPtrUpdateFeaturesResponse()
	var cerr *controller.Error
	if !authorizer(e, req).cluster(auth.OpAlter) {
		cerr = &controller.Error{Code: kerr.ClusterAuthorizationFailed.Code}
	} else {
		updates := make([]controller.FeatureUpdate, 0, len(r.FeatureUpdates))
		for _, f := range r.FeatureUpdates {
			u := controller.FeatureUpdate{Name: f.Feature, Level: f.MaxVersionLevel, UpgradeType: f.UpgradeType}
			if r.Version == 0 {
				u.UpgradeType = controller.UpgradeTypeUpgrade
				if f.AllowDowngrade {
					u.UpgradeType = controller.UpgradeTypeSafeDowngrade
				}
			}
			if u.Level < 0 {
				u.Level = 0
			}
			updates = append(updates, u)
		}
		cerr = e.Ctl.UpdateFeatures(updates, r.ValidateOnly)
	}
	resp.ErrorCode, resp.ErrorMessage = errorFields(cerr)
	if resp.ErrorCode == 0 && r.Version < 2 {
		for _, f := range r.FeatureUpdates {
			res := kmsg.NewUpdateFeaturesResponseResult()
			res.Feature = f.Feature
			resp.Results = append(resp.Results, res)
		}
	}
	return server.Ready(&server.Response{Msg: resp})
}
