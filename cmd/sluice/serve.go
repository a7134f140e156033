package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

func serveCmd() *cobra.Command {
	var (
		configPath string
		overrides  []string
		listeners  string
		logDirs    string
		nodeID     int32
		logFormat  string
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker (single node: embedded metadata, data in ./data by default)",
		Long: `Run a Sluice broker.

Configuration uses Kafka's names. --config reads a Kafka server.properties
file; --override key=value (repeatable) wins over the file; the short flags
win over both. With no configuration at all the broker listens on
127.0.0.1:9092 and keeps its data in ./data.

The broker runs with GOMAXPROCS of at least 2, even on one CPU, so that
goroutines waiting in fsync do not hold up the network loops; set
GOMAXPROCS in the environment to choose another value.`,
		Example: `  sluice serve
  sluice serve --config server.properties --override log.retention.ms=60000`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := brokerConfig(cmd, configPath, overrides, listeners, logDirs, nodeID)
			if err != nil {
				return err
			}
			logger, err := newLogger(logFormat, logLevel)
			if err != nil {
				return err
			}
			raiseProcs()
			b := broker.New(cfg, logger)
			if err := b.Start(); err != nil {
				return err
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			select {
			case s := <-sig:
				logger.Info("shutting down", "signal", s.String())
			case err := <-b.Fatal():
				// The metadata quorum member stopped (a disk error, or a
				// committed entry the image refused): serving on would
				// mean serving stale metadata.
				logger.Error("stopping: the metadata quorum member failed", "err", err)
				b.Close()
				return err
			}
			return b.Close()
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "Kafka-style server.properties file")
	f.StringArrayVar(&overrides, "override", nil, "set a config key=value (repeatable), as kafka-server-start.sh --override")
	f.StringVar(&listeners, "listeners", "", "listeners, e.g. PLAINTEXT://127.0.0.1:9092")
	f.StringVarP(&logDirs, "log-dirs", "d", "", "log.dirs: where data is kept")
	f.Int32Var(&nodeID, "node-id", 1, "node.id")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// brokerConfig builds the broker configuration from a properties file,
// --override pairs and the short flags, in that order of precedence.
func brokerConfig(cmd *cobra.Command, configPath string, overrides []string, listeners, logDirs string, nodeID int32) (*config.Broker, error) {
	props := map[string]string{}
	if configPath != "" {
		f, err := os.Open(configPath)
		if err != nil {
			return nil, err
		}
		props, err = config.LoadProperties(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", configPath, err)
		}
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--override %q: want key=value", o)
		}
		props[strings.TrimSpace(k)] = v
	}
	if f := cmd.Flags().Lookup("listeners"); f != nil && f.Changed {
		props["listeners"] = listeners
	}
	if cmd.Flags().Changed("log-dirs") {
		props["log.dirs"] = logDirs
	}
	if cmd.Flags().Changed("node-id") {
		props["node.id"] = fmt.Sprint(nodeID)
	}
	return config.Build(props)
}
