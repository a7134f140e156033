package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(18, 0, 4, apiVersions) }

// apiVersions answers from the registry. A version we do not know is
// answered with v0 and UNSUPPORTED_VERSION, which every client understands,
// so it can retry with a version from our list.
func apiVersions(e *Env, req *server.Request) server.Reply {
	resp := kmsg.NewPtrApiVersionsResponse()
	for _, v := range Versions() {
		if !v.served(e) {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = v.key, v.min, v.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	features(e, req, resp)
	if req.Body == nil {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return server.Ready(&server.Response{Msg: resp})
	}
	return server.Ready(&server.Response{Msg: resp})
}

// features fills v3+'s feature fields as a Kafka 4.0 broker does: the
// levels this broker supports (below v4 without those whose minimum is 0,
// which older clients fail to parse, KAFKA-17492), the finalized levels
// above 0, and as their epoch the metadata image's offset.
func features(e *Env, req *server.Request, resp *kmsg.ApiVersionsResponse) {
	img := e.Meta.Image()
	v4 := req.Body != nil && req.Body.GetVersion() >= 4
	for _, f := range controller.SupportedFeatures {
		if f.Min > 0 || v4 {
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = f.Name, f.Min, f.Max
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		}
		if l := controller.FinalizedLevel(img, e.Cfg, f.Name); l > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = f.Name, l, l
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
	}
	resp.FinalizedFeaturesEpoch = max(img.Offset, 0)
}

// featureEnabled reports whether a boolean feature (group.version,
// share.version) is finalized at 1 or above: UpdateFeatures lowering it
// to 0 turns its protocol off as in Kafka.
func featureEnabled(e *Env, name string) bool {
	return e.Meta == nil || controller.FinalizedLevel(e.Meta.Image(), e.Cfg, name) >= 1
}
