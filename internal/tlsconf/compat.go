package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// compatible refuses a new keystore whose certificate changes the subject
// DN or the subject alternative names of the one served, unless
// ssl.allow.dn.changes / ssl.allow.san.changes is true: Kafka's check on a
// dynamic keystore update, which keeps a rotation from changing the
// broker's identity by mistake.
func compatible(get Lookup, old, cur *tls.Config) error {
	if old == nil || len(old.Certificates) == 0 || len(cur.Certificates) == 0 {
		return nil
	}
	was, err := x509.ParseCertificate(old.Certificates[0].Certificate[0])
	if err != nil {
		return nil // not ours to judge: the old one was served
	}
	now, err := x509.ParseCertificate(cur.Certificates[0].Certificate[0])
	if err != nil {
		return err
	}
	if !allowed(get, "ssl.allow.dn.changes") {
		a, _ := DN(was)
		b, _ := DN(now)
		if a != b {
			return fmt.Errorf("Keystore DistinguishedName does not match: existing={%s}, new={%s} (set ssl.allow.dn.changes=true to allow it)", a, b)
		}
	}
	if !allowed(get, "ssl.allow.san.changes") {
		a, b := sans(was), sans(now)
		if !slices.Equal(a, b) {
			return fmt.Errorf("Keystore SubjectAltNames do not match: existing={%s}, new={%s} (set ssl.allow.san.changes=true to allow it)",
				strings.Join(a, ", "), strings.Join(b, ", "))
		}
	}
	return nil
}

func allowed(get Lookup, key string) bool {
	v, _, ok := get(key)
	return ok && strings.EqualFold(strings.TrimSpace(v), "true")
}

// sans lists a certificate's subject alternative names, sorted, in the
// JVM's (type, value) sense.
func sans(c *x509.Certificate) []string {
	var out []string
	for _, n := range c.DNSNames {
		out = append(out, "DNS:"+n)
	}
	for _, ip := range c.IPAddresses {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		out = append(out, "email:"+e)
	}
	for _, u := range c.URIs {
		out = append(out, "URI:"+u.String())
	}
	slices.Sort(out)
	return out
}

// Validate builds the configuration get describes, as a change to it
// would (an AlterConfigs), and checks it against the one served now.
func (r *Reloading) Validate(get Lookup) error {
	cfg, err := Server(get)
	if err != nil {
		return err
	}
	return compatible(get, r.Current(), cfg)
}
