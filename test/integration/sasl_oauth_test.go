package integration

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

// unsecuredJWS is a token for Kafka's unsecured OAUTHBEARER validator.
func unsecuredJWS(sub string, exp time.Time) oauth.Auth {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"sub":%q,"exp":%d}`, sub, exp.Unix())
	return oauth.Auth{Token: enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + "."}
}

// TestSASLOAuthBearerUnsecured: with OAUTHBEARER enabled a client with an
// unsecured token produces and consumes as its sub claim (ACLs see
// User:<sub>); an expired token fails with SASL_AUTHENTICATION_FAILED and
// invalid_token, as Kafka's unsecured validator answers.
func TestSASLOAuthBearerUnsecured(t *testing.T) {
	tb := startSASLBroker(t, withProp("sasl.enabled.mechanisms", "OAUTHBEARER"), withAuthorizer(),
		withProp("super.users", "User:ANONYMOUS")) // the PLAINTEXT admin sets things up
	topic := topicName(t, "")
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:oauth-user").Topics(topic).Groups("*").
		Operations(kadm.OpRead, kadm.OpWrite, kadm.OpDescribe))
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	saslProduceConsume(t, tb, saslClient(t, tb, unsecuredJWS("oauth-user", time.Now().Add(time.Hour)).AsMechanism()), topic, 10)

	cl := saslClient(t, tb, unsecuredJWS("someone-else", time.Now().Add(time.Hour)).AsMechanism(), kgo.DisableIdempotentWrite())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("another subject without ACLs: %v", err)
	}
	err = ping(t, tb.ListenerAddr("SASL_PLAINTEXT"), unsecuredJWS("oauth-user", time.Now().Add(-time.Minute)).AsMechanism())
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "invalid_token") {
		t.Errorf("expired token: %v", err)
	}
}
