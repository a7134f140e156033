package config

import (
	"strings"
)

// Keys of the built-in web console (internal/console, docs/CONSOLE.md).
// Sluice's own: Kafka has no console.
const (
	// ConsoleListenerKey names the console's HTTP listener, e.g.
	// http://127.0.0.1:8080. Unset or empty: no console (the default).
	ConsoleListenerKey = "console.listener"
	// ConsoleReadOnlyKey, when true, hides every form that changes the
	// cluster and refuses such requests.
	ConsoleReadOnlyKey = "console.read.only"

	// The keystore of an https console.listener, read as a Kafka
	// listener's ssl.keystore.* and ssl.key.password are (internal/tlsconf).
	ConsoleSSLKeystoreLocationKey = "console.ssl.keystore.location"
	ConsoleSSLKeystoreTypeKey     = "console.ssl.keystore.type"
	ConsoleSSLKeystorePasswordKey = "console.ssl.keystore.password"
	ConsoleSSLKeyPasswordKey      = "console.ssl.key.password"

	// consoleSSLPrefix: console.<k> is the console listener's ssl.* key k.
	consoleSSLPrefix = "console."
)

// ConsoleListener returns console.listener ("" when off).
func (b *Broker) ConsoleListener() string { return strings.TrimSpace(b.Raw[ConsoleListenerKey]) }

// ConsoleReadOnly returns console.read.only (default false); a value
// other than true or false is an error, as Kafka's booleans.
func (b *Broker) ConsoleReadOnly() (bool, error) {
	switch v := strings.ToLower(strings.TrimSpace(b.Raw[ConsoleReadOnlyKey])); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, invalid(ConsoleReadOnlyKey, b.Raw[ConsoleReadOnlyKey], "want true or false")
}

// ConsoleHTTPS reports whether console.listener is https://.
func (b *Broker) ConsoleHTTPS() bool {
	return strings.HasPrefix(strings.ToLower(b.ConsoleListener()), "https://")
}

// ConsoleSSL looks up the console listener's ssl.* properties (a
// tlsconf.Lookup): ssl.keystore.location is console.ssl.keystore.location,
// and so on; the key it came from is named in errors.
func (b *Broker) ConsoleSSL(key string) (value, from string, ok bool) {
	from = consoleSSLPrefix + key
	value, ok = b.Raw[from]
	return value, from, ok
}
