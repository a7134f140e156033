package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// featureInfo is one feature as ApiVersions reports it.
type featureInfo struct {
	Name      string `json:"name"`
	MinLevel  int16  `json:"supported_min"`
	MaxLevel  int16  `json:"supported_max"`
	Finalized int16  `json:"finalized"`
}

func clusterFeaturesCmd(cf *clientFlags) *cobra.Command {
	var (
		upgrade, downgrade []string
		unsafe, dryRun     bool
	)
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Show the cluster's feature flags, or upgrade and downgrade them",
		Long: `Show the feature flags (metadata.version, kraft.version, transaction.version,
group.version, share.version): the levels the broker supports and the level the
cluster has finalized (0: off), from ApiVersions, as Kafka 4.0 reports them.

--upgrade NAME=LEVEL and --downgrade NAME=LEVEL send one UpdateFeatures with
every change, as kafka-features.sh does: all apply or none. A downgrade is a
safe one unless --unsafe. Lowering group.version or share.version to 0 turns
off the KIP-848 consumer protocol or share groups; metadata.version cannot be
downgraded. --dry-run validates only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, ctx, done, err := cf.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			if len(upgrade)+len(downgrade) > 0 {
				req := kmsg.NewPtrUpdateFeaturesRequest()
				req.TimeoutMillis, req.ValidateOnly = 30000, dryRun
				add := func(specs []string, typ int8) error {
					for _, s := range specs {
						name, lv, ok := strings.Cut(s, "=")
						level, err := strconv.ParseInt(lv, 10, 16)
						if !ok || name == "" || err != nil {
							return fmt.Errorf("feature %q: want NAME=LEVEL", s)
						}
						u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
						u.Feature, u.MaxVersionLevel, u.UpgradeType = name, int16(level), typ
						u.AllowDowngrade = typ != 1
						req.FeatureUpdates = append(req.FeatureUpdates, u)
					}
					return nil
				}
				down := int8(2)
				if unsafe {
					down = 3
				}
				if err := add(upgrade, 1); err != nil {
					return err
				}
				if err := add(downgrade, down); err != nil {
					return err
				}
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return cf.clientErr(ctx, "update features", err)
				}
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
						return fmt.Errorf("update features: %w: %s", err, *resp.ErrorMessage)
					}
					return fmt.Errorf("update features: %w", err)
				}
				if dryRun {
					fmt.Fprintln(cmd.ErrOrStderr(), "validated; nothing changed (--dry-run)")
				}
			}
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice", "cli"
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return cf.clientErr(ctx, "api versions", err)
			}
			final := map[string]int16{}
			for _, f := range resp.FinalizedFeatures {
				final[f.Name] = f.MaxVersionLevel
			}
			fs := []featureInfo{}
			for _, f := range resp.SupportedFeatures {
				fs = append(fs, featureInfo{Name: f.Name, MinLevel: f.MinVersion, MaxLevel: f.MaxVersion, Finalized: final[f.Name]})
			}
			if cf.wantJSON() {
				return printJSON(out, map[string]any{"features": fs, "epoch": resp.FinalizedFeaturesEpoch})
			}
			t := newTable(out, "FEATURE", "SUPPORTED", "FINALIZED")
			for _, f := range fs {
				t.row(f.Name, fmt.Sprintf("%d-%d", f.MinLevel, f.MaxLevel), strconv.Itoa(int(f.Finalized)))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringArrayVar(&upgrade, "upgrade", nil, "NAME=LEVEL to upgrade to (repeatable)")
	cmd.Flags().StringArrayVar(&downgrade, "downgrade", nil, "NAME=LEVEL to downgrade to (repeatable)")
	cmd.Flags().BoolVar(&unsafe, "unsafe", false, "make --downgrade an unsafe (lossy) downgrade")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate the changes only")
	return cmd
}
