package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsAt sends ApiVersions at version v on a raw connection.
func apiVersionsAt(t *testing.T, addr string, v int16) *kmsg.ApiVersionsResponse {
	t.Helper()
	rc := dialRaw(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(v)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-test", "1"
	return rc.roundTrip(1, req).(*kmsg.ApiVersionsResponse)
}

func finalizedLevels(resp *kmsg.ApiVersionsResponse) map[string]int16 {
	m := map[string]int16{}
	for _, f := range resp.FinalizedFeatures {
		m[f.Name] = f.MaxVersionLevel
	}
	return m
}

func advertises(resp *kmsg.ApiVersionsResponse, key int16) bool {
	for _, k := range resp.ApiKeys {
		if k.ApiKey == key {
			return true
		}
	}
	return false
}

// updateFeatures sends one UpdateFeatures at version v.
func updateFeatures(t *testing.T, addr string, v int16, validate bool, ups ...kmsg.UpdateFeaturesRequestFeatureUpdate) *kmsg.UpdateFeaturesResponse {
	t.Helper()
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.SetVersion(v)
	req.TimeoutMillis, req.ValidateOnly, req.FeatureUpdates = 30000, validate, ups
	return dialRaw(t, addr).roundTrip(1, req).(*kmsg.UpdateFeaturesResponse)
}

func featureUpdate(name string, level int16, typ int8) kmsg.UpdateFeaturesRequestFeatureUpdate {
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType, u.AllowDowngrade = name, level, typ, typ != 1
	return u
}

// TestFeatures: ApiVersions reports the feature flags as a Kafka 4.0 broker
// does (below v4 without those whose minimum level is 0), UpdateFeatures
// (57) changes the finalized levels with Kafka's rules and error codes,
// lowering group.version turns the KIP-848 protocol off (its APIs are no
// longer advertised), the levels survive a restart, and `sluice cluster
// features` shows and changes them.
func TestFeatures(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	addr := tb.Addr()

	v4 := apiVersionsAt(t, addr, 4)
	want := map[string][2]int16{"metadata.version": {7, 25}, "kraft.version": {0, 0}, "transaction.version": {0, 2},
		"group.version": {0, 1}, "share.version": {0, 1}}
	if len(v4.SupportedFeatures) != len(want) {
		t.Errorf("supported features %+v", v4.SupportedFeatures)
	}
	for _, f := range v4.SupportedFeatures {
		if w, ok := want[f.Name]; !ok || f.MinVersion != w[0] || f.MaxVersion != w[1] {
			t.Errorf("supported %s %d-%d, want %v", f.Name, f.MinVersion, f.MaxVersion, w)
		}
	}
	fin := finalizedLevels(v4)
	if fin["metadata.version"] != 25 || fin["transaction.version"] != 2 || fin["group.version"] != 1 || fin["share.version"] != 1 || len(fin) != 4 {
		t.Errorf("finalized %v", fin)
	}
	if v4.FinalizedFeaturesEpoch <= 0 {
		t.Errorf("finalized features epoch %d", v4.FinalizedFeaturesEpoch)
	}
	if v3 := apiVersionsAt(t, addr, 3); len(v3.SupportedFeatures) != 1 || v3.SupportedFeatures[0].Name != "metadata.version" {
		t.Errorf("v3 supported features %+v, want metadata.version only (KAFKA-17492)", v3.SupportedFeatures)
	}

	const upgrade, safe, unsafe = 1, 2, 3
	bad := []struct {
		u   kmsg.UpdateFeaturesRequestFeatureUpdate
		msg string
	}{
		{featureUpdate("group.version", 0, upgrade), "Can't downgrade the version of this feature without setting the upgrade type"},
		{featureUpdate("group.version", 2, upgrade), "only supports versions 0-1"},
		{featureUpdate("metadata.version", 24, safe), "Refusing to perform the requested downgrade"},
		{featureUpdate("metadata.version", 24, unsafe), "Unsafe metadata downgrade is not supported"},
		{featureUpdate("metadata.version", 26, upgrade), "only supports versions 7-25"},
		{featureUpdate("kraft.version", 1, upgrade), "only supports versions 0-0"},
		{featureUpdate("no.such.feature", 1, upgrade), "does not support this feature"},
	}
	for _, b := range bad {
		resp := updateFeatures(t, addr, 1, false, b.u)
		if resp.ErrorCode != kerr.InvalidUpdateVersion.Code || resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, b.msg) {
			t.Errorf("%s=%d type %d: %s %v, want INVALID_UPDATE_VERSION %q", b.u.Feature, b.u.MaxVersionLevel, b.u.UpgradeType,
				kerr.ErrorForCode(resp.ErrorCode), resp.ErrorMessage, b.msg)
		}
	}
	// validate_only changes nothing; one bad update fails the request whole.
	if resp := updateFeatures(t, addr, 1, true, featureUpdate("share.version", 0, safe)); resp.ErrorCode != 0 || len(resp.Results) != 1 {
		t.Errorf("validate only: %+v", resp)
	}
	if resp := updateFeatures(t, addr, 1, false, featureUpdate("share.version", 0, safe), featureUpdate("group.version", 5, upgrade)); resp.ErrorCode == 0 {
		t.Errorf("a request with one bad update succeeded")
	}
	if fin := finalizedLevels(apiVersionsAt(t, addr, 4)); fin["share.version"] != 1 {
		t.Errorf("share.version %d after validate-only and a failed request", fin["share.version"])
	}

	// A safe downgrade of group.version to 0 turns the consumer protocol off.
	resp := updateFeatures(t, addr, 1, false, featureUpdate("group.version", 0, safe))
	if resp.ErrorCode != 0 || len(resp.Results) != 1 || resp.Results[0].Feature != "group.version" {
		t.Fatalf("downgrade group.version: %+v", resp)
	}
	after := apiVersionsAt(t, addr, 4)
	if _, ok := finalizedLevels(after)["group.version"]; ok || advertises(after, 68) || advertises(after, 69) {
		t.Errorf("group.version 0: finalized %v, ConsumerGroupHeartbeat advertised %v", finalizedLevels(after), advertises(after, 68))
	}
	if resp := updateFeatures(t, addr, 1, false, featureUpdate("group.version", 1, safe)); resp.ErrorCode != kerr.InvalidUpdateVersion.Code ||
		resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, "Can't downgrade to a newer version") {
		t.Errorf("a downgrade to a higher level: %+v", resp)
	}
	// kadm (v2: no per-feature results) upgrades it again.
	adm := newAdmin(t, addr)
	res, err := adm.UpdateFeatures(testCtx(t, 10*time.Second), false, kadm.FeatureUpdate{Feature: "group.version", MaxVersionLevel: 1, UpgradeType: upgrade})
	if err != nil || res.Error() != nil {
		t.Fatalf("kadm upgrade group.version: %v %v", err, res.Error())
	}
	if after := apiVersionsAt(t, addr, 4); finalizedLevels(after)["group.version"] != 1 || !advertises(after, 68) {
		t.Errorf("group.version back at 1: %v", finalizedLevels(after))
	}

	// The CLI shows the flags and downgrades one; the level survives a restart.
	rows := tableRows(cliOK(t, addr, "cluster", "features"))
	if !hasRow(rows, "FEATURE", "SUPPORTED", "FINALIZED") || !hasRow(rows, "metadata.version", "7-25", "25") || !hasRow(rows, "share.version", "0-1", "1") {
		t.Errorf("cluster features: %v", rows)
	}
	cliFails(t, addr, "INVALID_UPDATE_VERSION", "cluster", "features", "--upgrade", "share.version=0")
	rows = tableRows(cliOK(t, addr, "cluster", "features", "--downgrade", "share.version=0"))
	if !hasRow(rows, "share.version", "0-1", "0") {
		t.Errorf("after the CLI downgrade: %v", rows)
	}
	tb.Restart()
	after = apiVersionsAt(t, tb.Addr(), 4)
	if fin := finalizedLevels(after); fin["share.version"] != 0 || fin["group.version"] != 1 || advertises(after, 76) {
		t.Errorf("after restart: finalized %v, ShareGroupHeartbeat advertised %v", fin, advertises(after, 76))
	}
}
