package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kafka ConfigType values, as sent in DescribeConfigs responses (v3+).
const (
	TypeUnknown  int8 = 0
	TypeBoolean  int8 = 1
	TypeString   int8 = 2
	TypeInt      int8 = 3
	TypeShort    int8 = 4
	TypeLong     int8 = 5
	TypeDouble   int8 = 6
	TypeList     int8 = 7
	TypeClass    int8 = 8
	TypePassword int8 = 9
)

// Kafka ConfigSource values, as sent in DescribeConfigs responses (v1+).
const (
	SourceUnknown              int8 = 0
	SourceDynamicTopic         int8 = 1
	SourceDynamicBroker        int8 = 2
	SourceDynamicDefaultBroker int8 = 3
	SourceStaticBroker         int8 = 4
	SourceDefault              int8 = 5
)

// Entry is one described configuration, shaped like a DescribeConfigs
// response entry.
type Entry struct {
	Name      string
	Value     string
	Source    int8 // Source* constant
	Sensitive bool
	ReadOnly  bool
	Type      int8 // Type* constant
	Doc       string
	// Synonyms lists where the value could come from, highest precedence
	// first (Kafka's include_synonyms), the entry itself included.
	Synonyms []Synonym
	// Null: the value is null (Kafka's null default, nothing set).
	Null bool
}

// Synonym is one candidate source of a config value.
type Synonym struct {
	Name   string
	Value  string
	Source int8
}

// Errors returned (wrapped in *Error) by validation. The api layer maps
// both to Kafka INVALID_CONFIG (40) with Error() as the message.
var (
	ErrUnknownConfig = errors.New("unknown config")
	ErrInvalidValue  = errors.New("invalid config value")
)

// Error is a validation failure. Error() is a message fit to send to a
// client; errors.Is(err, ErrUnknownConfig/ErrInvalidValue) tells the kind.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func invalid(key, value, reason string) error {
	return &Error{Kind: ErrInvalidValue, Msg: fmt.Sprintf("invalid value %q for %s: %s", value, key, reason)}
}

// checkFn validates a trimmed value that already parsed as its type.
type checkFn func(key, v string) error

// parseTyped checks that v (already trimmed) parses as typ, then runs check.
func parseTyped(key, v string, typ int8, check checkFn) error {
	switch typ {
	case TypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return invalid(key, v, "not a boolean (true or false)")
		}
	case TypeInt, TypeShort, TypeLong:
		bits := map[int8]int{TypeInt: 32, TypeShort: 16, TypeLong: 64}[typ]
		if _, err := strconv.ParseInt(v, 10, bits); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return invalid(key, v, fmt.Sprintf("out of range for a %d-bit integer", bits))
			}
			return invalid(key, v, "not an integer")
		}
	case TypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			return invalid(key, v, "not a number")
		}
	}
	if check != nil {
		return check(key, v)
	}
	return nil
}

func atLeast(lo int64) checkFn {
	return func(key, v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < lo {
			return invalid(key, v, fmt.Sprintf("must be at least %d", lo))
		}
		return nil
	}
}

func between(lo, hi int64) checkFn {
	return func(key, v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < lo || n > hi {
			return invalid(key, v, fmt.Sprintf("must be between %d and %d", lo, hi))
		}
		return nil
	}
}

func betweenOr(lo, hi, or int64) checkFn {
	return func(key, v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n != or && (n < lo || n > hi) {
			return invalid(key, v, fmt.Sprintf("must be %d or between %d and %d", or, lo, hi))
		}
		return nil
	}
}

func ratio(key, v string) error {
	f, _ := strconv.ParseFloat(v, 64)
	if f < 0 || f > 1 {
		return invalid(key, v, "must be between 0 and 1")
	}
	return nil
}

func oneOf(allowed ...string) checkFn {
	return func(key, v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return invalid(key, v, "must be one of "+strings.Join(allowed, ", "))
	}
}

// listOf accepts a comma-separated list whose items are all in allowed
// (Kafka's ValidList): "delete", "compact", "compact,delete", ...
func listOf(allowed ...string) checkFn {
	one := oneOf(allowed...)
	return func(key, v string) error {
		items := splitList(v)
		if len(items) == 0 {
			return invalid(key, v, "must be a non-empty list of "+strings.Join(allowed, ", "))
		}
		for _, it := range items {
			if one(key, it) != nil {
				return invalid(key, v, "every item must be one of "+strings.Join(allowed, ", "))
			}
		}
		return nil
	}
}

// throttledReplicas validates "*" or "partition:broker,..." lists.
func throttledReplicas(key, v string) error {
	if v == "*" || v == "" {
		return nil
	}
	for _, it := range splitList(v) {
		p, b, ok := strings.Cut(it, ":")
		_, e1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		_, e2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if !ok || e1 != nil || e2 != nil {
			return invalid(key, v, "must be * or a list of partition:brokerId pairs")
		}
	}
	return nil
}

// splitList splits a Kafka LIST value on commas, trimming items and
// dropping empty ones.
func splitList(v string) []string {
	var out []string
	for _, it := range strings.Split(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
