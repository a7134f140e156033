package config

import (
	"fmt"
	"strconv"
	"strings"
)

// threadPools are Kafka's dynamic thread counts (DynamicThreadPool) and
// the log cleaner's: a change must keep at least one thread and stay
// within half and double of the current count, as Kafka checks before it
// resizes a pool.
var threadPools = map[string]bool{
	"num.io.threads": true, "num.replica.fetchers": true, "num.recovery.threads.per.data.dir": true,
	"background.threads": true, "log.cleaner.threads": true,
}

// ValidateThreadCount checks a dynamic change of a thread count against
// this broker's current value, with Kafka's messages. Other names pass.
func (b *Broker) ValidateThreadCount(name, value string) error {
	if !threadPools[name] {
		return nil
	}
	v := strings.TrimSpace(value)
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil // the type check reports it
	}
	cur, _ := strconv.Atoi(strings.TrimSpace(b.EffectiveValue(name)))
	if name == "log.cleaner.threads" {
		switch {
		case n < 1:
			return invalid(name, v, "Log cleaner threads should be at least 1")
		case n < cur/2:
			return invalid(name, v, fmt.Sprintf("Log cleaner threads cannot be reduced to less than half the current value %d", cur))
		case n > cur*2:
			return invalid(name, v, fmt.Sprintf("Log cleaner threads cannot be increased to more than double the current value %d", cur))
		}
		return nil
	}
	prefix := fmt.Sprintf("Dynamic thread count update validation failed for %s=%s", name, v)
	switch {
	case n == cur:
		return nil
	case n <= 0:
		return &Error{Kind: ErrInvalidValue, Msg: prefix + ", value should be at least 1"}
	case n < cur/2:
		return &Error{Kind: ErrInvalidValue, Msg: fmt.Sprintf("%s, value should be at least half the current value %d", prefix, cur)}
	case n > cur*2:
		return &Error{Kind: ErrInvalidValue, Msg: fmt.Sprintf("%s, value should not be greater than double the current value %d", prefix, cur)}
	}
	return nil
}
