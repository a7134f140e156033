package tlsconf

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// DN is the certificate subject as Kafka prints it (the JVM's
// X500Principal.getName(), RFC 2253): most specific RDN first, no spaces
// after commas, e.g. CN=alice,OU=eng,O=acme. Attribute types the JVM
// names by keyword use it; the others are dotted OIDs with the DER value
// in hex (1.2.840.113549.1.9.1=#16...).
func DN(cert *x509.Certificate) (string, error) {
	var seq []rdnSET
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) > 0 {
		return "", fmt.Errorf("unreadable certificate subject: %v", err)
	}
	var rdns []string
	for i := len(seq) - 1; i >= 0; i-- {
		var avas []string
		for _, a := range seq[i] {
			avas = append(avas, formatAVA(a))
		}
		rdns = append(rdns, strings.Join(avas, "+"))
	}
	return strings.Join(rdns, ","), nil
}

// rdnSET is one relative distinguished name; values stay raw so that types
// printed in hex show the encoding the certificate holds, as the JVM does.
type rdnSET []attribute

type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rfc2253Keywords are the attribute types RFC 2253 (and the JVM) name.
var rfc2253Keywords = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}

func formatAVA(a attribute) string {
	oid := a.Type.String()
	if kw, named := rfc2253Keywords[oid]; named {
		var s string
		if _, err := asn1.Unmarshal(a.Value.FullBytes, &s); err == nil {
			return kw + "=" + escapeValue(s)
		}
	}
	return oid + "=#" + hex.EncodeToString(a.Value.FullBytes)
}

// escapeValue escapes an attribute value as RFC 2253 section 2.4 asks.
func escapeValue(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(",+\"\\<>;", r),
			i == 0 && (r == ' ' || r == '#'),
			i == len(s)-1 && r == ' ':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Mapper is ssl.principal.mapping.rules: rules tried in order on a DN, the
// first whose pattern matches the whole DN gives the principal name.
type Mapper struct{ rules []rule }

type rule struct {
	deflt   bool
	re      *regexp.Regexp
	replace string
	caseTo  byte // 'L', 'U' or 0
}

// ruleRE reads one rule of the list, as Kafka's SslPrincipalMapper does:
// DEFAULT or RULE:pattern/replacement/[LU], separated by commas or new
// lines; a slash inside pattern or replacement is escaped with \.
var ruleRE = regexp.MustCompile(`^\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:[,\n]\s*|$)`)

// javaGroupRef is a $n group reference in a Java replacement string.
var javaGroupRef = regexp.MustCompile(`\$(\d+)`)

// ParseRules parses ssl.principal.mapping.rules ("" or DEFAULT: the DN
// itself).
func ParseRules(s string) (*Mapper, error) {
	m := &Mapper{}
	rest := strings.TrimSpace(s)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		g := ruleRE.FindStringSubmatch(rest)
		if g == nil {
			return nil, fmt.Errorf("invalid rule at %q: want DEFAULT or RULE:pattern/replacement/[LU]", rest)
		}
		rest = rest[len(g[0]):]
		if g[1] != "" {
			m.rules = append(m.rules, rule{deflt: true})
			continue
		}
		re, err := regexp.Compile("^(?:" + g[2] + ")$")
		if err != nil {
			return nil, fmt.Errorf("rule pattern %q: %w", g[2], err)
		}
		r := rule{re: re, replace: javaGroupRef.ReplaceAllString(g[3], "$${$1}")}
		if g[4] != "" {
			r.caseTo = g[4][0]
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

// Map returns the principal name of dn.
func (m *Mapper) Map(dn string) (string, error) {
	for _, r := range m.rules {
		if r.deflt {
			return dn, nil
		}
		if !r.re.MatchString(dn) {
			continue
		}
		out := r.re.ReplaceAllString(dn, r.replace)
		switch r.caseTo {
		case 'L':
			out = strings.ToLower(out)
		case 'U':
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", errors.New("no ssl.principal.mapping.rules rule applies to " + dn)
}

// Principal returns the mutual-TLS principal function of a listener: the
// leaf certificate's DN mapped by m.
func Principal(m *Mapper) func(*x509.Certificate) (string, error) {
	return func(leaf *x509.Certificate) (string, error) {
		dn, err := DN(leaf)
		if err != nil {
			return "", err
		}
		return m.Map(dn)
	}
}
