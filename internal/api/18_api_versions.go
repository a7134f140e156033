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
	// v3+: features, as a Kafka 4.x KRaft cluster reports them. The
	// finalized transaction.version tells clients to use KIP-890 part 2
	// (implicit partition adds, an epoch bump per EndTxn); group.version 1
	// is the KIP-848 consumer protocol and share.version 1 share groups
	// (KIP-932), finalized exactly when this broker serves them.
	feature := func(name string, max, finalized int16) {
		f := kmsg.NewApiVersionsResponseSupportedFeature()
		f.Name, f.MinVersion, f.MaxVersion = name, 0, max
		resp.SupportedFeatures = append(resp.SupportedFeatures, f)
		if finalized == 0 {
			return // Kafka lists only features finalized above level 0
		}
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, finalized, finalized
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	}
	feature("transaction.version", txn.TransactionVersion, txn.TransactionVersion)
	feature("group.version", 1, enabledLevel(consumerProtocolEnabled(e)))
	feature("share.version", 1, enabledLevel(shareGroupsEnabled(e)))
	resp.FinalizedFeaturesEpoch = 1
	if req.Body == nil {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return server.Ready(&server.Response{Msg: resp})
	}
	return server.Ready(&server.Response{Msg: resp})
}

// enabledLevel is a boolean feature's finalized level.
func enabledLevel(on bool) int16 {
	if on {
		return 1
	}
	return 0
}
