package config

import (
	"fmt"
	"strings"
)

// SSL returns the value of an ssl.* config for listener name and the key it
// came from: listener.name.<name>.<key>, else <key> (Kafka's order).
func (b *Broker) SSL(name, key string) (value, from string, ok bool) {
	for _, k := range []string{"listener.name." + strings.ToLower(name) + "." + key, key} {
		if v, ok := b.Raw[k]; ok {
			return v, k, true
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
	rawDef("ssl.keystore.type", TypeString, "JKS", nil, "Format of the keystore. Sluice reads PEM only: set PEM (unset is read as PEM); JKS and PKCS12 are refused."),
	rawDef("ssl.keystore.location", TypeString, "", nil, "PEM file holding the listener's certificate chain (leaf first) and its unencrypted private key."),
	rawDef("ssl.keystore.certificate.chain", TypePassword, "", nil, "The listener's certificate chain in PEM, inline (with ssl.keystore.key)."),
	rawDef("ssl.keystore.key", TypePassword, "", nil, "The listener's unencrypted private key in PEM, inline (encrypted keys and ssl.key.password are refused)."),
	rawDef("ssl.truststore.type", TypeString, "JKS", nil, "Format of the truststore. Sluice reads PEM only: set PEM (unset is read as PEM)."),
	rawDef("ssl.truststore.location", TypeString, "", nil, "PEM file of the CA certificates client certificates are verified against (unset: the system roots)."),
	rawDef("ssl.truststore.certificates", TypePassword, "", nil, "CA certificates in PEM, inline, client certificates are verified against."),
	rawDef("ssl.client.auth", TypeString, "none", nil, "Client certificates: none, requested (verified when given) or required."),
	rawDef("ssl.enabled.protocols", TypeList, "TLSv1.2,TLSv1.3", nil, "TLS versions accepted (TLSv1.2, TLSv1.3; older ones are accepted by name)."),
	rawDef("ssl.protocol", TypeString, "TLSv1.3", nil, "Highest TLS version of the listener's context (TLSv1.2 caps ssl.enabled.protocols at TLSv1.2)."),
	rawDef("ssl.cipher.suites", TypeList, "", nil, "TLS 1.2 cipher suites by IANA name (unset: Go's secure defaults); TLS 1.3 suites are always enabled."),
	rawDef("ssl.principal.mapping.rules", TypeString, "DEFAULT", nil, "Rules mapping a client certificate's distinguished name (RFC 2253, e.g. CN=alice,OU=eng) to the principal name on SSL listeners: RULE:pattern/replacement/[LU] and DEFAULT, comma-separated."),
}
