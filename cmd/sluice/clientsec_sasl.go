package main

// SASL credentials for client commands: sasl.mechanism with either a
// sasl.jaas.config line as Kafka's clients take it or librdkafka's
// sasl.username and sasl.password.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// saslMechanism builds the mechanism. Flags and environment
// (sasl.username/password) override a JAAS line's credentials, so a
// shared file can name the mechanism and the person running the command
// their own user.
func saslMechanism(s map[string]secSetting) (sasl.Mechanism, error) {
	mech := strings.ToUpper(s["sasl.mechanism"].value)
	if mech == "" {
		mech = "GSSAPI" // Kafka's default, named so the error below says it
	}
	var module string
	opts := map[string]string{}
	if j := s["sasl.jaas.config"]; j.value != "" {
		var err error
		if module, opts, err = parseJAAS(j.value); err != nil {
			return nil, fmt.Errorf("sasl.jaas.config (from %s): %w", j.from, err)
		}
	}
	user, pass := opts["username"], opts["password"]
	if v := s["sasl.username"]; v.value != "" {
		user = v.value
	}
	if v := s["sasl.password"]; v.value != "" {
		pass = v.value
	}
	wantModule := func(suffix string) error {
		if module != "" && !strings.HasSuffix(module, suffix) {
			return fmt.Errorf("sasl.jaas.config uses %s, but sasl.mechanism %s takes %s", module, mech, suffix)
		}
		return nil
	}
	needCreds := func() error {
		if user == "" || pass == "" {
			return fmt.Errorf("sasl.mechanism %s needs a user name and a password: --sasl-user and --sasl-password (or $%s, $%s), or sasl.jaas.config", mech, envName("sasl.username"), envName("sasl.password"))
		}
		return nil
	}
	switch mech {
	case "PLAIN":
		if err := wantModule(".PlainLoginModule"); err != nil {
			return nil, err
		}
		if err := needCreds(); err != nil {
			return nil, err
		}
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		if err := wantModule(".ScramLoginModule"); err != nil {
			return nil, err
		}
		if err := needCreds(); err != nil {
			return nil, err
		}
		a := scram.Auth{User: user, Pass: pass}
		if mech == "SCRAM-SHA-256" {
			return a.AsSha256Mechanism(), nil
		}
		return a.AsSha512Mechanism(), nil
	case "OAUTHBEARER":
		if err := wantModule(".OAuthBearerLoginModule"); err != nil {
			return nil, err
		}
		sub := opts["unsecuredLoginStringClaim_sub"]
		if sub == "" {
			return nil, fmt.Errorf("sasl.mechanism OAUTHBEARER: the CLI makes Kafka's unsecured tokens only; give OAuthBearerLoginModule's unsecuredLoginStringClaim_sub in sasl.jaas.config")
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			return oauth.Auth{Token: unsecuredJWT(sub, time.Now())}, nil
		}), nil
	}
	return nil, fmt.Errorf("sasl.mechanism %q (from %s): want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", mech, orDefault(s["sasl.mechanism"].from, "default"))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// unsecuredJWT is a token as Kafka's OAuthBearerLoginModule makes without
// a token endpoint: header alg none, claims sub, iat and exp (an hour),
// and an empty signature.
func unsecuredJWT(sub string, now time.Time) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(claims) + "."
}

// parseJAAS reads one login module entry of a JAAS configuration, as
// Kafka's sasl.jaas.config holds it:
//
//	<module class> <flag> [key=value ...];
//
// where the flag is required, requisite, sufficient or optional, and a
// value is a double-quoted string (backslash escapes the next character)
// or a bare word.
func parseJAAS(s string) (module string, opts map[string]string, err error) {
	p := &jaasLexer{s: strings.TrimSpace(s)}
	module = p.word()
	if module == "" {
		return "", nil, fmt.Errorf("no login module class")
	}
	switch flag := p.word(); flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return "", nil, fmt.Errorf("after %s want a flag (required, requisite, sufficient, optional), got %q", module, flag)
	}
	opts = map[string]string{}
	for {
		p.blanks()
		if p.done() {
			return "", nil, fmt.Errorf("missing ';' at the end")
		}
		if p.peek() == ';' {
			p.i++
			p.blanks()
			if !p.done() {
				return "", nil, fmt.Errorf("one login module only; text after ';': %q", p.s[p.i:])
			}
			return module, opts, nil
		}
		key := p.word()
		p.blanks()
		if key == "" || p.done() || p.peek() != '=' {
			return "", nil, fmt.Errorf("option %q: want key=value", key)
		}
		p.i++
		p.blanks()
		val, err := p.value()
		if err != nil {
			return "", nil, fmt.Errorf("option %s: %w", key, err)
		}
		opts[key] = val
	}
}

type jaasLexer struct {
	s string
	i int
}

func (p *jaasLexer) done() bool { return p.i >= len(p.s) }
func (p *jaasLexer) peek() byte { return p.s[p.i] }

func (p *jaasLexer) blanks() {
	for !p.done() && unicode.IsSpace(rune(p.peek())) {
		p.i++
	}
}

// word is a run of characters up to a blank, '=', ';' or quote.
func (p *jaasLexer) word() string {
	p.blanks()
	start := p.i
	for !p.done() && !unicode.IsSpace(rune(p.peek())) && !strings.ContainsRune("=;\"", rune(p.peek())) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *jaasLexer) value() (string, error) {
	if p.done() {
		return "", fmt.Errorf("missing value")
	}
	if p.peek() != '"' {
		if w := p.word(); w != "" {
			return w, nil
		}
		return "", fmt.Errorf("missing value")
	}
	p.i++
	var b strings.Builder
	for !p.done() {
		c := p.peek()
		p.i++
		switch c {
		case '\\':
			if p.done() {
				return "", fmt.Errorf("unterminated quoted value")
			}
			b.WriteByte(p.peek())
			p.i++
		case '"':
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quoted value")
}
