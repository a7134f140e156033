package integration

// segmentio/kafka-go over TLS: a second client's TLS and SASL code
// (its own dialer, its own SCRAM) against the SSL and SASL_SSL listeners.

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kadm"
)

// kafkaGoRoundTrip writes n records to partition 0 of a new topic with a
// kafka-go Writer and reads them back with a Reader, both over tlsCfg
// (and mech when not nil), and checks every value in order.
func kafkaGoRoundTrip(t *testing.T, tb *testBroker, addr, topic string, tlsCfg *tls.Config, mech sasl.Mechanism, n int) {
	t.Helper()
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
		Transport:    &kafka.Transport{TLS: tlsCfg, SASL: mech, DialTimeout: 5 * time.Second},
	}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("tls-%d", i))}
	}
	if err := w.WriteMessages(testCtx(t, 30*time.Second), msgs...); err != nil {
		t.Fatalf("kafka-go write over TLS: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{addr},
		Topic:     topic,
		Partition: 0,
		Dialer:    &kafka.Dialer{Timeout: 5 * time.Second, TLS: tlsCfg, SASLMechanism: mech},
		MinBytes:  1,
		MaxBytes:  1 << 20,
		MaxWait:   200 * time.Millisecond,
	})
	defer r.Close()
	ctx := testCtx(t, 30*time.Second)
	for i := range n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read %d over TLS: %v", i, err)
		}
		if want := fmt.Sprintf("tls-%d", i); string(m.Value) != want || m.Offset != int64(i) {
			t.Fatalf("record %d: offset %d value %q, want %q", i, m.Offset, m.Value, want)
		}
	}
}

// TestTLSKafkaGo: kafka-go produces and consumes over the SSL listener
// with a client certificate (ssl.client.auth=required) and over SASL_SSL
// with SCRAM-SHA-512; without a certificate, or with a wrong password,
// it is refused.
func TestTLSKafkaGo(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listener.name.ssl.ssl.client.auth", "required"))

	kafkaGoRoundTrip(t, tb, tb.ListenerAddr("SSL"), topicName(t, "ssl"), ca.clientTLS(t, &pkix.Name{CommonName: "kafka-go"}), nil, 200)

	up := kadm.UpsertSCRAM{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-512"}
	if res, err := newAdmin(t, tb.Addr()).AlterUserSCRAMs(testCtx(t, 15*time.Second), nil, []kadm.UpsertSCRAM{up}); err != nil || res.Error() != nil {
		t.Fatalf("AlterUserSCRAMs: %v %v", err, res)
	}
	mech, err := scram.Mechanism(scram.SHA512, "carol", "carol-512")
	if err != nil {
		t.Fatal(err)
	}
	kafkaGoRoundTrip(t, tb, tb.ListenerAddr("SASL_SSL"), topicName(t, "sasl-ssl"), ca.clientTLS(t, nil), mech, 200)

	// Refusals, through kafka-go's dialer.
	d := &kafka.Dialer{Timeout: 5 * time.Second, TLS: ca.clientTLS(t, nil)}
	if c, err := d.DialContext(testCtx(t, 15*time.Second), "tcp", tb.ListenerAddr("SSL")); err == nil {
		// TLS 1.3 reports a missing client certificate after the
		// handshake: the first request is what fails.
		_, err = c.ApiVersions()
		c.Close()
		if err == nil {
			t.Fatal("kafka-go without a client certificate was served")
		}
	}
	bad, err := scram.Mechanism(scram.SHA512, "carol", "wrong")
	if err != nil {
		t.Fatal(err)
	}
	d = &kafka.Dialer{Timeout: 5 * time.Second, TLS: ca.clientTLS(t, nil), SASLMechanism: bad}
	_, err = d.DialContext(testCtx(t, 15*time.Second), "tcp", tb.ListenerAddr("SASL_SSL"))
	if !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Fatalf("kafka-go with a wrong SCRAM password: %v, want SASL authentication failed", err)
	}
}
