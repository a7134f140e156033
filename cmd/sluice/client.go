package main

// Shared plumbing for commands that talk to a running broker as a client:
// the --brokers / --format / --timeout flags, the franz-go admin client,
// and table or JSON output.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokersEnv names the environment variable holding the default seed
// brokers (comma separated) when --brokers is not given.
const brokersEnv = "SLUICE_BROKERS"

// defaultBrokers is used when neither --brokers nor SLUICE_BROKERS is set.
const defaultBrokers = "localhost:9092"

// clientFlags are the connection and output flags shared by client commands.
type clientFlags struct {
	brokers string
	format  string
	timeout time.Duration
	sec     *securityFlags
}

// addClientFlags registers --brokers, --format and --timeout as persistent
// flags of cmd, so its subcommands inherit them.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	cf := &clientFlags{}
	def := defaultBrokers
	if env := strings.TrimSpace(os.Getenv(brokersEnv)); env != "" {
		def = env
	}
	f := cmd.PersistentFlags()
	f.StringVar(&cf.brokers, "brokers", def, "comma-separated seed `host:port` list (else $"+brokersEnv+")")
	f.StringVar(&cf.format, "format", "table", "output format: table or json")
	f.DurationVar(&cf.timeout, "timeout", 15*time.Second, "give up on the brokers after this long")
	cf.sec = addSecurityFlags(f)
	return cf
}

// seeds splits the --brokers value into host:port addresses.
func (cf *clientFlags) seeds() ([]string, error) {
	var out []string
	for _, s := range strings.Split(cf.brokers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no brokers given (--brokers or $%s)", brokersEnv)
	}
	return out, nil
}

// checkFormat rejects an unknown --format before any network work.
func (cf *clientFlags) checkFormat() error {
	switch cf.format {
	case "table", "json":
		return nil
	}
	return fmt.Errorf("unknown --format %q (want table or json)", cf.format)
}

// wantJSON reports whether output should be JSON.
func (cf *clientFlags) wantJSON() bool { return cf.format == "json" }

// admin connects to the brokers and returns an admin client and a context
// bounded by --timeout. The caller must call the returned close function.
func (cf *clientFlags) admin(parent context.Context) (*kadm.Client, context.Context, func(), error) {
	cl, ctx, done, err := cf.client(parent)
	if err != nil {
		return nil, nil, nil, err
	}
	return kadm.NewClient(cl), ctx, done, nil
}

// client is admin's franz-go client, for requests kadm does not wrap.
func (cf *clientFlags) client(parent context.Context) (*kgo.Client, context.Context, func(), error) {
	if err := cf.checkFormat(); err != nil {
		return nil, nil, nil, err
	}
	seeds, err := cf.seeds()
	if err != nil {
		return nil, nil, nil, err
	}
	sec, err := cf.sec.opts()
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(5 * time.Second),
		kgo.RequestRetries(3),
	}, sec...)...)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(parent, cf.timeout)
	return cl, ctx, func() { cancel(); cl.Close() }, nil
}

// clientErr makes err one line; a deadline names the brokers and timeout.
func (cf *clientFlags) clientErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if ctx.Err() != nil {
		return fmt.Errorf("%s: no answer from %s within %v (%s)", what, cf.brokers, cf.timeout, msg)
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// printJSON writes v as indented JSON followed by a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns; rows are tab-separated cells.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }
