// Command sluice is the Sluice broker and its tools. This file only wires
// cobra commands; each command lives in its own file.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Sluice: a Kafka-compatible event-streaming broker",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd())
	for _, c := range extraCommands {
		root.AddCommand(c())
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

// extraCommands lets other command files register themselves.
var extraCommands []func() *cobra.Command
