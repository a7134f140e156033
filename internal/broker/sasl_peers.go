package broker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	isasl "github.com/sluice-io/sluice/internal/sasl"
)

// interBrokerSASL is the mechanism this broker logs in with on a SASL
// inter-broker listener, as Kafka configures it:
// sasl.mechanism.inter.broker.protocol, which the listener must enable,
// and the username and password options of the JAAS config for that
// mechanism on that listener
// (listener.name.<listener>.<mechanism>.sasl.jaas.config, else
// sasl.jaas.config). Any gap stops the broker at start with the key to
// set.
func (b *Broker) interBrokerSASL(listener string) (sasl.Mechanism, error) {
	const key = "sasl.mechanism.inter.broker.protocol"
	mech, set := b.cfg.Raw[key]
	mech = strings.ToUpper(strings.TrimSpace(mech))
	if !set || mech == "" {
		if !b.inCluster() {
			// A single node never dials itself: a lone SASL listener
			// needs no inter-broker credentials.
			return nil, nil
		}
		mech = "GSSAPI" // Kafka's default
	}
	if !slices.Contains(b.cfg.SASLMechanisms(listener), mech) {
		return nil, fmt.Errorf("%s=%s: the inter-broker listener %s does not enable it (sasl.enabled.mechanisms: %v)", key, mech, listener, b.cfg.SASLMechanisms(listener))
	}
	from, jaas := b.cfg.JAASConfig(listener, mech)
	if jaas == "" {
		return nil, fmt.Errorf("%s=%s on listener %s: set listener.name.%s.%s.sasl.jaas.config with this broker's username and password", key, mech, listener, strings.ToLower(listener), strings.ToLower(mech))
	}
	mod, err := isasl.ParseJAAS(jaas)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	user, pass := mod.Options["username"], mod.Options["password"]
	if user == "" || pass == "" {
		return nil, fmt.Errorf("%s: the username and password options (this broker's own credentials for inter-broker %s) are not set", from, mech)
	}
	switch mech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%s=%s: inter-broker SASL supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", key, mech)
}

// inCluster reports whether this node talks to others: a voter of a
// larger quorum or a broker without a vote.
func (b *Broker) inCluster() bool {
	if b.cfg.IsBrokerOnly() || len(b.cfg.QuorumBootstrapServers()) > 0 {
		return true
	}
	voters, err := b.cfg.QuorumVoters()
	return err == nil && len(voters) > 1
}
