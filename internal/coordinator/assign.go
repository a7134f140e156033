package coordinator

import (
	"regexp"
	"slices"
	"strings"
)

// Server-side assignors of the consumer group protocol. Each computes a
// target assignment for every member from the members' resolved
// subscriptions and the subscribed topics' metadata; prev is the previous
// target (stickiness). Every partition of a subscribed topic goes to
// exactly one member subscribed to it, when there is one.

type assignMember struct {
	id     string
	topics []string // resolved subscription, sorted
}

type assignSpec struct {
	members []assignMember // sorted by id
	topics  map[string]TopicInfo
	prev    map[string]parts
}

type assignFunc func(assignSpec) map[string]parts

// assignors are the server assignors Sluice has, by Kafka's names.
var assignors = map[string]assignFunc{
	"uniform": assignUniform,
	"range":   assignRange,
}

// assignorName maps Kafka's class names to the short names.
func assignorName(s string) string {
	s = strings.TrimSpace(s)
	switch s {
	case "org.apache.kafka.coordinator.group.assignor.UniformAssignor":
		return "uniform"
	case "org.apache.kafka.coordinator.group.assignor.RangeAssignor":
		return "range"
	}
	return s
}

// compileTopicRegex compiles a SubscribedTopicRegex (RE2 syntax, Go's
// regexp) to match whole topic names, as Kafka's matcher.matches() does.
func compileTopicRegex(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

// subscribers lists, per subscribed topic that exists, the members
// subscribed to it (in member order).
func (s assignSpec) subscribers() map[string][]string {
	out := map[string][]string{}
	for _, m := range s.members {
		for _, t := range m.topics {
			if _, ok := s.topics[t]; ok {
				out[t] = append(out[t], m.id)
			}
		}
	}
	return out
}

func sortedTopicNames(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
