package sasl

import (
	"fmt"
	"strings"
)

// PlainLoginModule is the JAAS login module class whose user_<name>
// options define the accepted PLAIN users.
const PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"

// LoginModule is one entry of a JAAS configuration.
type LoginModule struct {
	Class   string
	Flag    string // required, requisite, sufficient or optional
	Options map[string]string
}

// ParseJAAS parses the value of a sasl.jaas.config property, Kafka's inline
// JAAS syntax:
//
//	<login module class> <flag> [<name>=<value> ...];
//
// where a value is a double-quoted string (backslash escapes the next
// character) or a bare word, and // and /* */ comments are skipped. As in
// Kafka, such a property must hold exactly one login module.
func ParseJAAS(s string) (LoginModule, error) {
	mods, err := parseJAASModules(s)
	if err != nil {
		return LoginModule{}, err
	}
	if len(mods) != 1 {
		return LoginModule{}, fmt.Errorf("JAAS config property contains %d login modules, should be 1 module", len(mods))
	}
	return mods[0], nil
}

// PlainUsers returns the PLAIN users a JAAS configuration defines: the
// user_<name>="<password>" options of its PlainLoginModule. The username
// and password options (the broker's own client credentials) are not users.
func PlainUsers(jaas string) (map[string]string, error) {
	m, err := ParseJAAS(jaas)
	if err != nil {
		return nil, err
	}
	if m.Class != PlainLoginModule {
		return nil, fmt.Errorf("login module %s is not %s", m.Class, PlainLoginModule)
	}
	users := map[string]string{}
	for k, v := range m.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
			users[name] = v
		}
	}
	return users, nil
}

// jaasLexer splits a JAAS text into words, quoted strings and the
// punctuation '=' and ';'.
type jaasLexer struct {
	s   string
	pos int
}

type jaasToken struct {
	kind byte // 'w' word, 'q' quoted string, '=' , ';', 0 end
	text string
}

func isJAASWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '$' || c >= 0x80
}

func (l *jaasLexer) next() (jaasToken, error) {
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case strings.HasPrefix(l.s[l.pos:], "//"):
			if i := strings.IndexByte(l.s[l.pos:], '\n'); i >= 0 {
				l.pos += i + 1
			} else {
				l.pos = len(l.s)
			}
		case strings.HasPrefix(l.s[l.pos:], "/*"):
			i := strings.Index(l.s[l.pos+2:], "*/")
			if i < 0 {
				return jaasToken{}, fmt.Errorf("unterminated comment")
			}
			l.pos += i + 4
		case c == '=' || c == ';':
			l.pos++
			return jaasToken{kind: c, text: string(c)}, nil
		case c == '"':
			var b strings.Builder
			for l.pos++; l.pos < len(l.s); l.pos++ {
				c := l.s[l.pos]
				if c == '\\' && l.pos+1 < len(l.s) {
					l.pos++
					b.WriteByte(l.s[l.pos])
					continue
				}
				if c == '"' {
					l.pos++
					return jaasToken{kind: 'q', text: b.String()}, nil
				}
				b.WriteByte(c)
			}
			return jaasToken{}, fmt.Errorf("unterminated quoted string")
		case isJAASWordByte(c):
			start := l.pos
			for l.pos < len(l.s) && isJAASWordByte(l.s[l.pos]) {
				l.pos++
			}
			return jaasToken{kind: 'w', text: l.s[start:l.pos]}, nil
		default:
			return jaasToken{}, fmt.Errorf("unexpected character %q at offset %d", c, l.pos)
		}
	}
	return jaasToken{}, nil
}

func parseJAASModules(s string) ([]LoginModule, error) {
	l := &jaasLexer{s: s}
	var mods []LoginModule
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == 0 {
			return mods, nil
		}
		if t.kind != 'w' {
			return nil, fmt.Errorf("expected a login module class, found %q", t.text)
		}
		m := LoginModule{Class: t.text, Options: map[string]string{}}
		f, err := l.next()
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(f.text) {
		case "required", "requisite", "sufficient", "optional":
			if f.kind != 'w' {
				return nil, fmt.Errorf("login module %s: expected a control flag, found %q", m.Class, f.text)
			}
			m.Flag = strings.ToLower(f.text)
		default:
			return nil, fmt.Errorf("login module %s: invalid control flag %q (required, requisite, sufficient or optional)", m.Class, f.text)
		}
		for {
			k, err := l.next()
			if err != nil {
				return nil, err
			}
			if k.kind == ';' {
				break
			}
			if k.kind != 'w' {
				return nil, fmt.Errorf("login module %s: expected an option name or ';', found %q", m.Class, k.text)
			}
			if eq, err := l.next(); err != nil {
				return nil, err
			} else if eq.kind != '=' {
				return nil, fmt.Errorf("login module %s: option %s: expected '='", m.Class, k.text)
			}
			v, err := l.next()
			if err != nil {
				return nil, err
			}
			if v.kind != 'w' && v.kind != 'q' {
				return nil, fmt.Errorf("login module %s: option %s has no value", m.Class, k.text)
			}
			m.Options[k.text] = v.text
		}
		mods = append(mods, m)
	}
}
