//go:build compat_tools

// Package compat pins the client modules whose own test suites `make compat`
// builds (go test -c) and runs against Sluice. Nothing here is compiled into
// the broker.
package compat

import (
	_ "github.com/segmentio/kafka-go"
	_ "github.com/twmb/franz-go/pkg/kgo"
)
