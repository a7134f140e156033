package config

import "strings"

// The authorizer class names Sluice accepts for authorizer.class.name:
// Kafka's KRaft StandardAuthorizer, and the ZooKeeper-era AclAuthorizer as
// an alias of it (same ACL semantics; the ACLs live in the metadata log).
const (
	StandardAuthorizerClass = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	AclAuthorizerClass      = "kafka.security.authorizer.AclAuthorizer"
)

func checkAuthorizer(key, v string) error {
	switch v {
	case "", StandardAuthorizerClass, AclAuthorizerClass:
		return nil
	}
	return invalid(key, v, "unsupported authorizer: Sluice implements "+StandardAuthorizerClass+
		" (and accepts "+AclAuthorizerClass+" as an alias); leave it empty to disable authorization")
}

// AuthorizerEnabled reports whether authorizer.class.name names an authorizer.
func (b *Broker) AuthorizerEnabled() bool { return b.AuthorizerClassName != "" }

// SuperUsers returns the principals of super.users (split on ';', trimmed,
// empty items dropped), as Kafka's StandardAuthorizer reads them.
func (b *Broker) SuperUsers() []string {
	var out []string
	for _, p := range strings.Split(b.SuperUsersList, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
