package config

import (
	"fmt"
	"strings"
)

// SSL returns the value of an ssl.* config for listener name and the key it
// came from: listener.name.<name>.<key>, else <key> (Kafka's order: the
// listener prefix wins whatever the source). Each key's value is this
// broker's dynamic one, else the cluster-wide dynamic one, else the
// static property, so a reload after AlterConfigs sees the new stores.
func (b *Broker) SSL(name, key string) (value, from string, ok bool) {
	return b.SSLWith(nil, name, key)
}

// SSLWith is SSL with perBroker in place of this broker's dynamic configs
// (nil: the current ones): the values an AlterConfigs would leave, which
// it validates before they are written.
func (b *Broker) SSLWith(perBroker map[string]string, name, key string) (value, from string, ok bool) {
	var cluster map[string]string
	if l := b.dyn.Load(); l != nil {
		cluster = l.cluster
		if perBroker == nil {
			perBroker = l.perBroker
		}
	}
	for _, k := range []string{"listener.name." + strings.ToLower(name) + "." + key, key} {
		for _, m := range []map[string]string{perBroker, cluster, b.Raw} {
			if v, ok := m[k]; ok {
				return v, k, true
			}
		}
	}
	return "", "", false
}

// validateTLSListeners refuses SASL_SSL on the controller listener: the
// quorum's transport speaks TLS (SSL) but no SASL, so such a cluster
// would start and then fail to talk to itself.
func (b *Broker) validateTLSListeners() error {
	ls, err := b.ListenerList()
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.Protocol == ProtocolSASLSSL && b.IsControllerListener(l.Name) {
			return invalid("listener.security.protocol.map", b.Raw["listener.security.protocol.map"], fmt.Sprintf(
				"controller listener %s uses SASL_SSL: controller traffic does not authenticate with SASL; use SSL (mutual TLS) or PLAINTEXT", l.Name))
		}
	}
	return nil
}

// sslDefs are the ssl.* configs SSL and SASL_SSL listeners read (Kafka's
// types and defaults); each may be set per listener as
// listener.name.<name>.<config>. The other ssl.* configs stay Kafka-only.
var sslDefs = []brokerDef{
	rawDef("ssl.keystore.type", TypeString, "JKS", nil, "Format of the keystore file: JKS, PKCS12 or PEM. JKS and PKCS12 each read a file of the other format, as the JVM does; unset (JKS) also reads a PEM file."),
	rawDef("ssl.keystore.location", TypeString, "", nil, "Keystore file: JKS or PKCS12 with one private key entry, or PEM with the certificate chain (leaf first) and the private key. Re-read when it changes (checked at most once a second on new connections)."),
	rawDef("ssl.keystore.password", TypePassword, "", nil, "Password of the keystore file (JKS, PKCS12)."),
	rawDef("ssl.key.password", TypePassword, "", nil, "Password of the private key: a JKS key entry's (default: the keystore password) or an encrypted PKCS#8 PEM key's. PKCS12 keys use the keystore password."),
	rawDef("ssl.keystore.certificate.chain", TypePassword, "", nil, "The listener's certificate chain in PEM, inline (with ssl.keystore.key)."),
	rawDef("ssl.keystore.key", TypePassword, "", nil, "The listener's private key in PEM, inline; PKCS#8 encrypted with ssl.key.password or unencrypted."),
	rawDef("ssl.truststore.type", TypeString, "JKS", nil, "Format of the truststore file: JKS, PKCS12 or PEM (unset also reads PEM)."),
	rawDef("ssl.truststore.location", TypeString, "", nil, "Truststore file of the CA certificates client certificates are verified against (unset: the system roots). Re-read when it changes."),
	rawDef("ssl.truststore.password", TypePassword, "", nil, "Password of the truststore file (required for JKS)."),
	rawDef("ssl.truststore.certificates", TypePassword, "", nil, "CA certificates in PEM, inline, client certificates are verified against."),
	rawDef("ssl.client.auth", TypeString, "none", nil, "Client certificates: none, requested (verified when given) or required."),
	rawDef("ssl.enabled.protocols", TypeList, "TLSv1.2,TLSv1.3", nil, "TLS versions accepted (TLSv1.2, TLSv1.3; older ones are accepted by name)."),
	rawDef("ssl.protocol", TypeString, "TLSv1.3", nil, "Highest TLS version of the listener's context (TLSv1.2 caps ssl.enabled.protocols at TLSv1.2)."),
	rawDef("ssl.cipher.suites", TypeList, "", nil, "TLS 1.2 cipher suites by IANA name (unset: Go's secure defaults); TLS 1.3 suites are always enabled."),
	rawDef("ssl.allow.dn.changes", TypeBoolean, "false", nil, "Allow a reloaded keystore (file change or dynamic update) whose certificate has another subject DN."),
	rawDef("ssl.allow.san.changes", TypeBoolean, "false", nil, "Allow a reloaded keystore whose certificate has other subject alternative names."),
	rawDef("ssl.principal.mapping.rules", TypeString, "DEFAULT", nil, "Rules mapping a client certificate's distinguished name (RFC 2253, e.g. CN=alice,OU=eng) to the principal name on SSL listeners: RULE:pattern/replacement/[LU] and DEFAULT, comma-separated."),
}
