package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-io/sluice/internal/metadata"
)

// credential derives what the metadata image stores for password
// (RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key")).
func credential(t *testing.T, h func() hash.Hash, password string, salt []byte, iter int) metadata.ScramCredential {
	t.Helper()
	salted, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	d := h()
	d.Write(mac(salted, "Client Key"))
	return metadata.ScramCredential{Salt: salt, StoredKey: d.Sum(nil), ServerKey: mac(salted, "Server Key"), Iterations: int32(iter)}
}

// TestScramRFC7677 replays the SCRAM-SHA-256 example of RFC 7677 section 3
// byte for byte: the server-first message with the stored salt and
// iterations, and the server signature of the final message.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred := credential(t, sha256.New, "pencil", salt, 4096)
	old := serverNonce
	serverNonce = func() (string, error) { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", nil }
	defer func() { serverNonce = old }()

	a := New(Config{Mechanisms: []string{"SCRAM-SHA-256"}, Scram: func(u string, m int8) (metadata.ScramCredential, bool) {
		return cred, u == "user" && m == metadata.ScramSHA256
	}})
	ex, ok := a.Start("SCRAM-SHA-256")
	if !ok {
		t.Fatal("SCRAM-SHA-256 not started")
	}
	first, done, err := ex.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || done {
		t.Fatalf("client-first: %v done=%v", err, done)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	final, done, err := ex.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("client-final: %v done=%v", err, done)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final %q, want %q", final, want)
	}
	if ex.User() != "user" {
		t.Errorf("user %q", ex.User())
	}
}

type sessionLike interface {
	Challenge([]byte) (bool, []byte, error)
}

// exchange runs the client session against a server exchange until either
// side finishes; it returns the server's user and the first error.
func exchange(t *testing.T, a *Authenticator, name string, sess sessionLike, first []byte) (string, error) {
	t.Helper()
	ex, ok := a.Start(name)
	if !ok {
		t.Fatalf("%s not enabled", name)
	}
	msg := first
	for i := 0; i < 5; i++ {
		reply, done, err := ex.Step(msg)
		if err != nil {
			return "", err
		}
		cdone, next, cerr := sess.Challenge(reply)
		if cerr != nil {
			return "", cerr
		}
		if done {
			if !cdone {
				t.Fatal("server done, client not")
			}
			return ex.User(), nil
		}
		msg = next
	}
	t.Fatal("exchange did not finish")
	return "", nil
}

func TestScramWithClient(t *testing.T) {
	creds := map[int8]metadata.ScramCredential{
		metadata.ScramSHA256: credential(t, sha256.New, "secret-256", []byte("salt-one"), 4096),
		metadata.ScramSHA512: credential(t, sha512.New, "secret-512", []byte("salt-two"), 8192),
	}
	lookup := func(u string, m int8) (metadata.ScramCredential, bool) {
		c, ok := creds[m]
		return c, ok && u == "ali,ce="
	}
	a := New(Config{Mechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}, Scram: lookup})
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pass, zid string
		sha512                bool
		wantErr               string
	}{
		{name: "sha256", user: "ali,ce=", pass: "secret-256"},
		{name: "sha512", user: "ali,ce=", pass: "secret-512", sha512: true},
		{name: "zid=user", user: "ali,ce=", pass: "secret-256", zid: "ali,ce="},
		{name: "wrong password", user: "ali,ce=", pass: "nope", wantErr: "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"},
		{name: "512 password on 256", user: "ali,ce=", pass: "secret-512", wantErr: "invalid credentials"},
		{name: "unknown user", user: "bob", pass: "secret-256", wantErr: "invalid credentials with SASL mechanism SCRAM-SHA-256"},
		{name: "other zid", user: "ali,ce=", pass: "secret-256", zid: "bob", wantErr: "Authentication failed: Client requested an authorization id that is different from username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			au := scram.Auth{User: tc.user, Pass: tc.pass, Zid: tc.zid}
			m, name := au.AsSha256Mechanism(), "SCRAM-SHA-256"
			if tc.sha512 {
				m, name = au.AsSha512Mechanism(), "SCRAM-SHA-512"
			}
			sess, first, err := m.Authenticate(ctx, "h:1")
			if err != nil {
				t.Fatal(err)
			}
			user, err := exchange(t, a, name, sess, first)
			if tc.wantErr == "" {
				if err != nil || user != tc.user {
					t.Fatalf("user %q err %v", user, err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(se.Message, tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(se.Reason, tc.pass) || strings.Contains(se.Message, tc.pass) {
				t.Errorf("error leaks the password: %+v", se)
			}
		})
	}
}

func TestScramRejects(t *testing.T) {
	cred := credential(t, sha256.New, "pw", []byte("s"), 4096)
	weak := credential(t, sha256.New, "pw", []byte("s"), 1000)
	a := New(Config{Mechanisms: []string{"SCRAM-SHA-256"}, Scram: func(u string, m int8) (metadata.ScramCredential, bool) {
		if u == "weak" {
			return weak, true
		}
		return cred, u == "u"
	}})
	start := func() Exchange { ex, _ := a.Start("SCRAM-SHA-256"); return ex }

	// A final message with another nonce fails, and the exchange stays failed.
	ex := start()
	if _, _, err := ex.Step([]byte("n,,n=u,r=abc")); err != nil {
		t.Fatal(err)
	}
	_, _, err := ex.Step([]byte("c=biws,r=abcWRONG,p=AAAA"))
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "Invalid client nonce") || !strings.Contains(se.Message, "invalid credentials with SASL mechanism SCRAM-SHA-256") {
		t.Fatalf("nonce mismatch: %v", err)
	}
	if _, _, err := ex.Step([]byte("c=biws,r=abc,p=AAAA")); err == nil {
		t.Fatal("failed exchange went on")
	}
	for _, first := range []string{"", "y,,n=u,r=a", "p=tls-unique,,n=u,r=a", "n,,r=a,n=u", "n,,n=u", "n,,n=u=,r=a", "n,,n=u,r=a,b", "n,x,n=u,r=a"} {
		if _, _, err := start().Step([]byte(first)); err == nil {
			t.Errorf("client-first %q accepted", first)
		}
	}
	if _, _, err := start().Step([]byte("n,,n=weak,r=a")); err == nil || !strings.Contains(err.(*Error).Reason, "less than the minimum 4096") {
		t.Errorf("1000 iterations: %v", err)
	}
	if _, _, err := start().Step([]byte("n,,n=u,r=a,tokenauth=true")); err == nil {
		t.Error("delegation token accepted")
	}
	// As Kafka 3.9: a nonce ending with the server's (librdkafka < 2.6.1
	// repeats its client nonce in front) is accepted; the proof decides.
	ex = start()
	sf, _, _ := ex.Step([]byte("n,,n=u,r=abc"))
	nonce := strings.TrimPrefix(strings.Split(string(sf), ",")[0], "r=")
	_, _, err = ex.Step([]byte("c=biws,r=abc" + nonce + ",p=AAAA"))
	if !errors.As(err, &se) || strings.Contains(se.Reason, "nonce") {
		t.Errorf("repeated client nonce: %v (want a proof failure, not a nonce one)", err)
	}
	// A channel binding other than the gs2 header fails.
	ex = start()
	sf, _, _ = ex.Step([]byte("n,,n=u,r=abc"))
	nonce = strings.TrimPrefix(strings.Split(string(sf), ",")[0], "r=")
	if _, _, err := ex.Step([]byte("c=eSws,r=" + nonce + ",p=AAAA")); err == nil {
		t.Error("wrong channel binding accepted")
	}
}

func TestPlain(t *testing.T) {
	a := New(Config{Mechanisms: []string{"PLAIN"}, PlainUsers: map[string]string{"alice": "alice-secret", "bob": "b"}})
	ctx := context.Background()
	for _, tc := range []struct {
		zid, user, pass, wantErr string
	}{
		{user: "alice", pass: "alice-secret"},
		{zid: "alice", user: "alice", pass: "alice-secret"},
		{user: "alice", pass: "wrong", wantErr: "Authentication failed: Invalid username or password"},
		{user: "carol", pass: "alice-secret", wantErr: "Authentication failed: Invalid username or password"},
		{zid: "bob", user: "alice", pass: "alice-secret", wantErr: "Authentication failed: Client requested an authorization id that is different from username"},
	} {
		sess, first, err := plain.Auth{Zid: tc.zid, User: tc.user, Pass: tc.pass}.AsMechanism().Authenticate(ctx, "h:1")
		if err != nil {
			t.Fatal(err)
		}
		user, err := exchange(t, a, "PLAIN", sess, first)
		if tc.wantErr == "" {
			if err != nil || user != tc.user {
				t.Errorf("%+v: user %q err %v", tc, user, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.wantErr {
			t.Errorf("%+v: err %v, want %q", tc, err, tc.wantErr)
		}
	}
	for _, tok := range []string{"alice", "\x00alice", "\x00\x00pw", "\x00alice\x00"} {
		ex, _ := a.Start("PLAIN")
		if _, _, err := ex.Step([]byte(tok)); err == nil || !strings.Contains(err.Error(), "invalid credentials with SASL mechanism PLAIN") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	if _, ok := a.Start("SCRAM-SHA-256"); ok {
		t.Error("a mechanism not enabled started")
	}
}

func TestParseJAAS(t *testing.T) {
	users, err := PlainUsers(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="admin-secret" // the broker's own login
		user_admin="admin-secret" /* users: */ user_alice="al\"ice;=pw"
		user_bob=bob-secret;`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"admin": "admin-secret", "alice": `al"ice;=pw`, "bob": "bob-secret"}
	if len(users) != len(want) {
		t.Fatalf("users %v", users)
	}
	for k, v := range want {
		if users[k] != v {
			t.Errorf("user %s: %q, want %q", k, users[k], v)
		}
	}
	m, err := ParseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule REQUIRED username="u" password="p";`)
	if err != nil || m.Flag != "required" || m.Options["username"] != "u" {
		t.Fatalf("scram module %+v %v", m, err)
	}
	for _, bad := range []string{
		``,
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x"`,   // no ';'
		`org.apache.kafka.common.security.plain.PlainLoginModule mandatory user_a="x";`, // bad flag
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a=;`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a "x";`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x;`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required; org.apache.kafka.common.security.plain.PlainLoginModule required;`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required /* open`,
	} {
		if _, err := PlainUsers(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := PlainUsers(`org.apache.kafka.common.security.scram.ScramLoginModule required user_a="x";`); err == nil {
		t.Error("users taken from a module other than PlainLoginModule")
	}
}
