package config

import "strings"

// Kafka's broker config catalogue, as far as Sluice needs it to answer
// AlterConfigs, IncrementalAlterConfigs and DescribeConfigs on broker
// resources the way a Kafka 4.x broker does:
//
//   - every config Kafka changes at runtime, with its update mode
//     (kafkaUpdateModes: per-broker or cluster-wide; anything else Kafka
//     knows is read-only);
//   - the Kafka configs Sluice does not implement (kafkaOnlyDefs), with
//     Kafka's type and default, so they are described, refused when
//     read-only, and accepted (and reported, with no effect) when dynamic.
//
// Names Kafka does not know at all are custom configs: Kafka accepts and
// reports them on broker resources, and so does Sluice.

// updateMode is Kafka's "Update Mode" of a broker config.
type updateMode int8

const (
	readOnly    updateMode = iota // needs a restart
	perBroker                     // dynamic, only on a broker id resource
	clusterWide                   // dynamic, per broker or cluster default
)

// kafkaUpdateModes lists Kafka's dynamic broker configs (its
// DynamicBrokerConfig set plus the broker quota configs). The broker-level
// defaults of topic configs are added from topicDefs at init.
var kafkaUpdateModes = func() map[string]updateMode {
	m := map[string]updateMode{}
	// Listener and security configs: per broker only.
	for _, n := range []string{
		"advertised.listeners", "listeners", "listener.security.protocol.map", "principal.builder.class",
		"ssl.protocol", "ssl.provider", "ssl.cipher.suites", "ssl.enabled.protocols", "ssl.keystore.type",
		"ssl.keystore.location", "ssl.keystore.password", "ssl.key.password", "ssl.truststore.type",
		"ssl.truststore.location", "ssl.truststore.password", "ssl.keymanager.algorithm",
		"ssl.trustmanager.algorithm", "ssl.endpoint.identification.algorithm", "ssl.secure.random.implementation",
		"ssl.client.auth", "ssl.engine.factory.class", "ssl.keystore.certificate.chain", "ssl.keystore.key",
		"ssl.truststore.certificates",
		"sasl.mechanism.inter.broker.protocol", "sasl.jaas.config", "sasl.enabled.mechanisms",
		"sasl.kerberos.service.name", "sasl.kerberos.kinit.cmd", "sasl.kerberos.ticket.renew.window.factor",
		"sasl.kerberos.ticket.renew.jitter", "sasl.kerberos.min.time.before.relogin",
		"sasl.kerberos.principal.to.local.rules", "sasl.login.refresh.window.factor",
		"sasl.login.refresh.window.jitter", "sasl.login.refresh.min.period.seconds",
		"sasl.login.refresh.buffer.seconds",
	} {
		m[n] = perBroker
	}
	for _, n := range []string{
		// connection limits and network threads (also per listener)
		"max.connections", "max.connection.creation.rate", "num.network.threads",
		"max.connections.per.ip", "max.connections.per.ip.overrides",
		// thread pools
		"num.io.threads", "num.replica.fetchers", "num.recovery.threads.per.data.dir", "background.threads",
		"metric.reporters",
		// log cleaner
		"log.cleaner.threads", "log.cleaner.dedupe.buffer.size", "log.cleaner.io.buffer.load.factor",
		"log.cleaner.io.buffer.size", "message.max.bytes", "log.cleaner.io.max.bytes.per.second",
		"log.cleaner.backoff.ms",
		// producer state
		"producer.id.expiration.ms", "transaction.partition.verification.enable",
		// tiered storage
		"remote.log.index.file.cache.total.size.bytes", "remote.fetch.max.wait.ms",
		"remote.log.manager.copy.max.bytes.per.second", "remote.log.manager.fetch.max.bytes.per.second",
		"remote.list.offsets.request.timeout.ms",
		// broker quotas
		LeaderThrottledRateKey, FollowerThrottledRateKey, "replica.alter.log.dirs.io.max.bytes.per.second",
	} {
		m[n] = clusterWide
	}
	for _, d := range topicDefs {
		if d.brokerKey != "" {
			m[d.brokerKey] = clusterWide
		}
	}
	return m
}()

// clusterLevelListenerConfigs may be set per listener at the cluster
// default too (Kafka's ClusterLevelListenerConfigs).
var clusterLevelListenerConfigs = map[string]bool{
	"max.connections": true, "max.connection.creation.rate": true, "num.network.threads": true,
}

// listenerOnlyConfigs are dynamic only under a listener prefix
// (listener.name.<name>.<config>), Kafka's DynamicSecurityConfigs.
var listenerOnlyConfigs = map[string]bool{
	"ssl.keystore.type": true, "ssl.keystore.location": true, "ssl.keystore.password": true,
	"ssl.key.password": true, "ssl.truststore.type": true, "ssl.truststore.location": true,
	"ssl.truststore.password": true, "ssl.keystore.certificate.chain": true, "ssl.keystore.key": true,
	"ssl.truststore.certificates": true,
}

// sluiceApplies are the dynamic configs Sluice applies at runtime: the
// broker-level defaults of topic configs (every topic without an override
// follows them), the log cleaner's settings, the replication throttles and
// the TLS listeners' ssl.* configs.
// Kafka's other dynamic configs are stored, reported and documented as
// not applied.
var sluiceApplies = func() map[string]bool {
	m := map[string]bool{
		"log.cleaner.threads": true, "log.cleaner.backoff.ms": true, "log.cleaner.dedupe.buffer.size": true,
		"log.cleaner.io.buffer.size": true, "message.max.bytes": true,
		LeaderThrottledRateKey: true, FollowerThrottledRateKey: true,
	}
	// A TLS listener rebuilds its configuration when any of these
	// changes (internal/broker/tls.go); ssl.principal.mapping.rules is
	// read-only in Kafka.
	for _, d := range sslDefs {
		if d.name != "ssl.principal.mapping.rules" {
			m[d.name] = true
		}
	}
	for _, d := range topicDefs {
		if d.brokerKey != "" {
			m[d.brokerKey] = true
		}
	}
	return m
}()

const (
	docNotImplemented = "Kafka broker config that Sluice does not implement: the value is accepted and reported, and has no effect."
	docNotApplied     = " Kafka changes it at runtime; Sluice accepts and reports a dynamic value but applies only the value it started with."
)

// kafkaOnlyDefs are Kafka broker configs Sluice does not implement, with
// Kafka 4.x's type and default ("" for none).
var kafkaOnlyDefs = func() []brokerDef {
	raw := []struct {
		name string
		typ  int8
		def  string
	}{
		// security
		{"principal.builder.class", TypeClass, "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"},
		{"security.inter.broker.protocol", TypeString, "PLAINTEXT"},
		{"ssl.protocol", TypeString, "TLSv1.3"},
		{"ssl.provider", TypeString, ""},
		{"ssl.cipher.suites", TypeList, ""},
		{"ssl.enabled.protocols", TypeList, "TLSv1.2,TLSv1.3"},
		{"ssl.keystore.type", TypeString, "JKS"},
		{"ssl.keystore.location", TypeString, ""},
		{"ssl.keystore.password", TypePassword, ""},
		{"ssl.key.password", TypePassword, ""},
		{"ssl.keystore.certificate.chain", TypePassword, ""},
		{"ssl.keystore.key", TypePassword, ""},
		{"ssl.truststore.type", TypeString, "JKS"},
		{"ssl.truststore.location", TypeString, ""},
		{"ssl.truststore.password", TypePassword, ""},
		{"ssl.truststore.certificates", TypePassword, ""},
		{"ssl.keymanager.algorithm", TypeString, "SunX509"},
		{"ssl.trustmanager.algorithm", TypeString, "PKIX"},
		{"ssl.endpoint.identification.algorithm", TypeString, "https"},
		{"ssl.secure.random.implementation", TypeString, ""},
		{"ssl.client.auth", TypeString, "none"},
		{"ssl.engine.factory.class", TypeClass, ""},
		{"ssl.principal.mapping.rules", TypeString, "DEFAULT"},
		{"ssl.allow.dn.changes", TypeBoolean, "false"},
		{"ssl.allow.san.changes", TypeBoolean, "false"},
		{"sasl.mechanism.inter.broker.protocol", TypeString, "GSSAPI"},
		{"sasl.mechanism.controller.protocol", TypeString, "GSSAPI"},
		{"sasl.jaas.config", TypePassword, ""},
		{"sasl.kerberos.service.name", TypeString, ""},
		{"sasl.kerberos.kinit.cmd", TypeString, "/usr/bin/kinit"},
		{"sasl.kerberos.ticket.renew.window.factor", TypeDouble, "0.8"},
		{"sasl.kerberos.ticket.renew.jitter", TypeDouble, "0.05"},
		{"sasl.kerberos.min.time.before.relogin", TypeLong, "60000"},
		{"sasl.kerberos.principal.to.local.rules", TypeList, "DEFAULT"},
		{"sasl.login.refresh.window.factor", TypeDouble, "0.8"},
		{"sasl.login.refresh.window.jitter", TypeDouble, "0.05"},
		{"sasl.login.refresh.min.period.seconds", TypeShort, "60"},
		{"sasl.login.refresh.buffer.seconds", TypeShort, "300"},
		{"sasl.login.class", TypeClass, ""},
		{"sasl.login.callback.handler.class", TypeClass, ""},
		{"sasl.server.callback.handler.class", TypeClass, ""},
		{"connection.failed.authentication.delay.ms", TypeInt, "100"},
		{"delegation.token.secret.key", TypePassword, ""},
		{"delegation.token.max.lifetime.ms", TypeLong, "604800000"},
		{"delegation.token.expiry.time.ms", TypeLong, "86400000"},
		{"delegation.token.expiry.check.interval.ms", TypeLong, "3600000"},
		// network and threads
		{"max.connections", TypeInt, "2147483647"},
		{"max.connection.creation.rate", TypeInt, "2147483647"},
		{"max.connections.per.ip", TypeInt, "2147483647"},
		{"max.connections.per.ip.overrides", TypeString, ""},
		{"num.network.threads", TypeInt, "3"},
		{"num.io.threads", TypeInt, "8"},
		{"num.recovery.threads.per.data.dir", TypeInt, "2"},
		{"background.threads", TypeInt, "10"},
		{"queued.max.requests", TypeInt, "500"},
		{"socket.send.buffer.bytes", TypeInt, "102400"},
		{"socket.receive.buffer.bytes", TypeInt, "102400"},
		{"socket.listen.backlog.size", TypeInt, "50"},
		{"early.start.listeners", TypeString, ""},
		// metrics and plugins
		{"metric.reporters", TypeList, "org.apache.kafka.common.metrics.JmxReporter"},
		{"metrics.num.samples", TypeInt, "2"},
		{"metrics.sample.window.ms", TypeLong, "30000"},
		{"metrics.recording.level", TypeString, "INFO"},
		{"kafka.metrics.reporters", TypeList, ""},
		{"kafka.metrics.polling.interval.secs", TypeInt, "10"},
		{"alter.config.policy.class.name", TypeClass, ""},
		{"create.topic.policy.class.name", TypeClass, ""},
		{"client.quota.callback.class", TypeClass, ""},
		{"config.providers", TypeList, ""},
		// log
		{"log.cleaner.io.buffer.load.factor", TypeDouble, "0.9"},
		{"log.cleaner.io.max.bytes.per.second", TypeDouble, "1.7976931348623157E308"},
		{"log.roll.jitter.hours", TypeInt, "0"},
		{"log.flush.scheduler.interval.ms", TypeLong, maxLong},
		{"log.flush.offset.checkpoint.interval.ms", TypeInt, "60000"},
		{"log.flush.start.offset.checkpoint.interval.ms", TypeInt, "60000"},
		{"log.dir.failure.timeout.ms", TypeLong, "30000"},
		{"num.replica.alter.log.dirs.threads", TypeInt, ""},
		{"replica.alter.log.dirs.io.max.bytes.per.second", TypeLong, maxLong},
		{"producer.id.expiration.ms", TypeInt, "86400000"},
		{"producer.id.expiration.check.interval.ms", TypeInt, "600000"},
		{"transaction.partition.verification.enable", TypeBoolean, "true"},
		{"transactional.id.expiration.ms", TypeInt, "604800000"},
		{"transaction.remove.expired.transaction.cleanup.interval.ms", TypeInt, "3600000"},
		{"transaction.state.log.load.buffer.size", TypeInt, "5242880"},
		{"transaction.state.log.segment.bytes", TypeInt, "104857600"},
		{"offsets.load.buffer.size", TypeInt, "5242880"},
		{"offsets.retention.check.interval.ms", TypeLong, "600000"},
		{"offsets.topic.segment.bytes", TypeInt, "104857600"},
		{"offsets.topic.compression.codec", TypeInt, "0"},
		{"fetch.max.bytes", TypeInt, "57671680"},
		{"fetch.purgatory.purge.interval.requests", TypeInt, "1000"},
		{"producer.purgatory.purge.interval.requests", TypeInt, "1000"},
		{"delete.records.purgatory.purge.interval.requests", TypeInt, "1"},
		{"replica.socket.timeout.ms", TypeInt, "30000"},
		{"replica.socket.receive.buffer.bytes", TypeInt, "65536"},
		{"replica.fetch.min.bytes", TypeInt, "1"},
		{"replica.selector.class", TypeString, ""},
		{"unstable.api.versions.enable", TypeBoolean, "false"},
		// KRaft and metadata
		{"metadata.log.segment.bytes", TypeInt, "1073741824"},
		{"metadata.log.segment.ms", TypeLong, "604800000"},
		{"metadata.max.retention.ms", TypeLong, "604800000"},
		{"metadata.max.idle.interval.ms", TypeInt, "500"},
		{"initial.broker.registration.timeout.ms", TypeInt, "60000"},
		// tiered storage
		{"remote.log.storage.system.enable", TypeBoolean, "false"},
		{"remote.log.index.file.cache.total.size.bytes", TypeLong, "1073741824"},
		{"remote.fetch.max.wait.ms", TypeInt, "500"},
		{"remote.log.manager.copy.max.bytes.per.second", TypeLong, maxLong},
		{"remote.log.manager.fetch.max.bytes.per.second", TypeLong, maxLong},
		{"remote.list.offsets.request.timeout.ms", TypeLong, "30000"},
	}
	out := make([]brokerDef, 0, len(raw))
	for _, r := range raw {
		out = append(out, brokerDef{name: r.name, typ: r.typ, def: r.def, doc: docNotImplemented, kafkaOnly: true})
	}
	return out
}()

// updateModeOf returns Kafka's update mode of a known broker config name.
func updateModeOf(name string) updateMode { return kafkaUpdateModes[name] }

// listenerBase splits listener.name.<listener>.<config> into <config>.
func listenerBase(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "listener.name.")
	if !ok {
		return "", false
	}
	_, base, ok := strings.Cut(rest, ".")
	return base, ok && base != ""
}

// isSensitiveType reports whether Kafka hides values of this type.
func isSensitiveType(typ int8) bool { return typ == TypePassword }
