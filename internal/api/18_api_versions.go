package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/txn"
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
	// v3+: the finalized transaction.version tells clients to use
	// KIP-890 part 2 (implicit partition adds, an epoch bump per EndTxn).
	f := kmsg.NewApiVersionsResponseSupportedFeature()
	f.Name, f.MinVersion, f.MaxVersion = "transaction.version", 0, txn.TransactionVersion
	resp.SupportedFeatures = append(resp.SupportedFeatures, f)
	ff := kmsg.NewApiVersionsResponseFinalizedFeature()
	ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "transaction.version", txn.TransactionVersion, txn.TransactionVersion
	resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	resp.FinalizedFeaturesEpoch = 1
	if req.Body == nil {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return server.Ready(&server.Response{Msg: resp})
	}
	return server.Ready(&server.Response{Msg: resp})
}
