package config

import "strings"

// Keys of the built-in web console (internal/console, docs/CONSOLE.md).
// Sluice's own: Kafka has no console.
const (
	// ConsoleListenerKey names the console's HTTP listener, e.g.
	// http://127.0.0.1:8080. Unset or empty: no console (the default).
	ConsoleListenerKey = "console.listener"
	// ConsoleReadOnlyKey, when true, hides every form that changes the
	// cluster and refuses such requests.
	ConsoleReadOnlyKey = "console.read.only"
)

// ConsoleListener returns console.listener ("" when off).
func (b *Broker) ConsoleListener() string { return strings.TrimSpace(b.Raw[ConsoleListenerKey]) }

// ConsoleReadOnly returns console.read.only (default false).
func (b *Broker) ConsoleReadOnly() bool {
	return strings.EqualFold(strings.TrimSpace(b.Raw[ConsoleReadOnlyKey]), "true")
}
