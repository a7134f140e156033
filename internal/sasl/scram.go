package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/metadata"
)

// scramMech is one SCRAM variant.
type scramMech struct {
	name          string
	typ           int8 // metadata.ScramSHA256/512
	hash          func() hash.Hash
	minIterations int32
}

var (
	scramSHA256 = scramMech{"SCRAM-SHA-256", metadata.ScramSHA256, sha256.New, 4096}
	scramSHA512 = scramMech{"SCRAM-SHA-512", metadata.ScramSHA512, sha512.New, 4096}
)

// scramExchange is the server side of RFC 5802: client-first, then
// server-first (stored salt and iterations, the client nonce extended by
// ours), then client-final with the proof checked against StoredKey, then
// server-final with the signature from ServerKey.
type scramExchange struct {
	m      scramMech
	lookup ScramLookup
	state  int // 0: await client-first, 1: await client-final, 2: done, 3: failed

	user            string
	gs2Header       string // "n,," or "n,a=<authzid>,"
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
	cred            metadata.ScramCredential
}

func newScram(m scramMech, lookup ScramLookup) *scramExchange {
	return &scramExchange{m: m, lookup: lookup}
}

func (s *scramExchange) User() string { return s.user }

func (s *scramExchange) Step(token []byte) ([]byte, bool, error) {
	var (
		reply []byte
		err   *Error
	)
	switch s.state {
	case 0:
		reply, err = s.clientFirst(string(token))
		if err == nil {
			s.state = 1
			return reply, false, nil
		}
	case 1:
		reply, err = s.clientFinal(string(token))
		if err == nil {
			s.state = 2
			return reply, true, nil
		}
	default:
		err = generic(s.m.name, "unexpected token in SCRAM state "+strconv.Itoa(s.state))
	}
	s.state = 3
	s.cred = metadata.ScramCredential{}
	return nil, false, err
}

// clientFirst parses gs2-header client-first-message-bare:
// n,[a=authzid],n=user,r=nonce[,extensions]. Channel binding is not
// supported, so the gs2 flag must be "n".
func (s *scramExchange) clientFirst(msg string) ([]byte, *Error) {
	bad := func(why string) *Error {
		return generic(s.m.name, "Invalid SCRAM client first message format: "+why)
	}
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok || flag != "n" {
		return nil, bad("gs2 flag must be n (no channel binding)")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, bad("no authorization id field")
	}
	if authz != "" && !strings.HasPrefix(authz, "a=") {
		return nil, bad("bad authorization id field")
	}
	authzid, _ := unescapeSASLName(strings.TrimPrefix(authz, "a="))
	s.gs2Header = "n," + authz + ","
	s.clientFirstBare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, bad("want n=<user>,r=<nonce>")
	}
	user, ok := unescapeSASLName(attrs[0][2:])
	if !ok || user == "" {
		return nil, generic(s.m.name, "Authentication failed: Credentials could not be obtained (invalid user name)")
	}
	clientNonce := attrs[1][2:]
	if clientNonce == "" || !printable(clientNonce) {
		return nil, bad("invalid nonce")
	}
	for _, ext := range attrs[2:] {
		k, v, ok := strings.Cut(ext, "=")
		if !ok || k == "" {
			return nil, bad("invalid extension")
		}
		if k == "tokenauth" && strings.EqualFold(v, "true") {
			return nil, generic(s.m.name, "Token Authentication failed: delegation tokens are not supported")
		}
	}
	s.user = user
	cred, found := s.lookup(user, s.m.typ)
	if !found {
		return nil, generic(s.m.name, "Authentication failed: Invalid user credentials (unknown user "+user+")")
	}
	if authzid != "" && authzid != user {
		return nil, specific("Authentication failed: Client requested an authorization id that is different from username")
	}
	if cred.Iterations < s.m.minIterations {
		return nil, generic(s.m.name, fmt.Sprintf("Iterations %d is less than the minimum %d for %s", cred.Iterations, s.m.minIterations, s.m.name))
	}
	s.cred = cred
	suffix, err := serverNonce()
	if err != nil {
		return nil, generic(s.m.name, "no randomness for the server nonce: "+err.Error())
	}
	s.nonce = clientNonce + suffix
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
	return []byte(s.serverFirst), nil
}

// clientFinal parses c=<binding>,r=<nonce>[,extensions],p=<proof>,
// verifies the nonce, the channel binding and the proof, and answers
// v=<server signature>.
func (s *scramExchange) clientFinal(msg string) ([]byte, *Error) {
	bad := func(why string) *Error {
		return generic(s.m.name, "Invalid SCRAM client final message format: "+why)
	}
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, bad("no proof")
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, bad("want c=<binding>,r=<nonce>")
	}
	// Kafka 3.8.1 to 3.9 accept a nonce that ends with the server-first
	// nonce (RFC 5802 wants equality, restored in Kafka 4.0): librdkafka
	// before 2.6.1 sends its client nonce once more in front of it.
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return nil, generic(s.m.name, "Invalid client nonce in the final client message.")
	}
	binding, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil || string(binding) != s.gs2Header {
		return nil, generic(s.m.name, "channel binding does not repeat the gs2 header")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return nil, bad("proof is not base64")
	}
	authMessage := []byte(s.clientFirstBare + "," + s.serverFirst + "," + withoutProof)
	clientSignature := s.hmac(s.cred.StoredKey, authMessage)
	if len(proof) != len(clientSignature) {
		return nil, generic(s.m.name, "Invalid client credentials (proof length)")
	}
	clientKey := make([]byte, len(proof))
	for j := range proof {
		clientKey[j] = proof[j] ^ clientSignature[j]
	}
	h := s.m.hash()
	h.Write(clientKey)
	if !hmac.Equal(h.Sum(nil), s.cred.StoredKey) {
		return nil, generic(s.m.name, "Invalid client credentials (wrong password for user "+s.user+")")
	}
	serverSignature := s.hmac(s.cred.ServerKey, authMessage)
	s.cred = metadata.ScramCredential{}
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil
}

// serverNonce returns the random part the server adds to the client's
// nonce (a variable so tests can replay RFC 7677's example).
var serverNonce = func() (string, error) {
	var rnd [24]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(rnd[:]), nil
}

func (s *scramExchange) hmac(key, msg []byte) []byte {
	m := hmac.New(s.m.hash, key)
	m.Write(msg)
	return m.Sum(nil)
}

// unescapeSASLName decodes RFC 5802's saslname: "=2C" is ',' and "=3D"
// is '='; any other '=' is invalid.
func unescapeSASLName(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// printable is RFC 5802's printable: %x21-2B / %x2D-7E (no comma).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}
