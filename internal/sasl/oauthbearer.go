package sasl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// OAUTHBEARER (RFC 7628, KIP-255) with Kafka's default server-side
// validator, OAuthBearerUnsecuredValidatorCallbackHandler: the token is an
// unsecured JWS ({"alg":"none"} header, empty signature) whose "sub" claim
// is the principal and whose "exp" claim must not have passed. Like Kafka's
// validator it proves nothing about who signed the token: it is for tests
// and development, not for production (Kafka says the same of it).
//
// A rejected token is answered, as RFC 7628 asks, with an error challenge
// ({"status":"invalid_token"}); the client acknowledges it with a single
// 0x01 and the authentication then fails with that JSON as the message.

const kvsep = "\x01"

type oauthExchange struct {
	now      func() time.Time
	user     string
	exp      time.Time // the token's "exp" claim, once authenticated
	errorMsg string    // the error challenge sent, awaiting the client's 0x01
}

func newOAuthBearer(now func() time.Time) *oauthExchange {
	if now == nil {
		now = time.Now
	}
	return &oauthExchange{now: now}
}

func (o *oauthExchange) User() string { return o.user }

// Expiry is when the token the client authenticated with expires: Kafka
// ends the session there (KIP-368), whatever connections.max.reauth.ms.
func (o *oauthExchange) Expiry() time.Time { return o.exp }

func (o *oauthExchange) Step(token []byte) ([]byte, bool, error) {
	if o.errorMsg != "" {
		if bytes.Equal(token, []byte(kvsep)) {
			return nil, false, specific(o.errorMsg)
		}
		return nil, false, generic("OAUTHBEARER", "client did not acknowledge the error challenge")
	}
	authzid, bearer, err := parseOAuthClientFirst(string(token))
	if err != nil {
		return nil, false, generic("OAUTHBEARER", err.Error())
	}
	sub, exp, reason := validateUnsecuredJWS(bearer, o.now())
	if reason != "" {
		o.errorMsg = `{"status":"invalid_token"}`
		_ = reason // the status is all the client learns, as in Kafka
		return []byte(o.errorMsg), false, nil
	}
	if authzid != "" && authzid != sub {
		return nil, false, specific("Authentication failed: Client requested an authorization id (" + authzid +
			") that is different from the token's principal name (" + sub + ")")
	}
	o.user, o.exp = sub, exp
	return nil, true, nil
}

// parseOAuthClientFirst splits the client's first message:
// gs2-header (n,[a=authzid],) 0x01 auth=Bearer <token> 0x01 [kvpairs 0x01] 0x01.
func parseOAuthClientFirst(msg string) (authzid, token string, err error) {
	gs2, rest, ok := strings.Cut(msg, kvsep)
	if !ok || !strings.HasSuffix(rest, kvsep+kvsep) && rest != kvsep {
		return "", "", errorString("invalid OAUTHBEARER client first message")
	}
	parts := strings.Split(gs2, ",")
	if len(parts) != 3 || parts[0] != "n" || parts[2] != "" {
		return "", "", errorString("invalid OAUTHBEARER gs2 header")
	}
	if parts[1] != "" {
		a, ok := strings.CutPrefix(parts[1], "a=")
		if !ok {
			return "", "", errorString("invalid OAUTHBEARER gs2 header")
		}
		authzid = a
	}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, kvsep+kvsep), kvsep) {
		if v, ok := strings.CutPrefix(kv, "auth="); ok {
			t, ok := strings.CutPrefix(v, "Bearer ")
			if !ok || strings.TrimSpace(t) == "" {
				return "", "", errorString("invalid OAUTHBEARER auth value")
			}
			token = strings.TrimSpace(t)
		}
	}
	if token == "" {
		return "", "", errorString("OAUTHBEARER message without a bearer token")
	}
	return authzid, token, nil
}

// validateUnsecuredJWS checks an unsecured JWS as Kafka's unsecured
// validator does (principal claim "sub", no clock skew allowed, no
// required scope) and returns the principal and the expiry, or why it is
// invalid.
func validateUnsecuredJWS(token string, now time.Time) (sub string, expiry time.Time, reason string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] != "" {
		return "", time.Time{}, "not an unsecured JWS (three parts, empty signature)"
	}
	var header map[string]any
	if err := decodeJSONPart(parts[0], &header); err != nil {
		return "", time.Time{}, "bad header: " + err.Error()
	}
	if alg, _ := header["alg"].(string); alg != "none" {
		return "", time.Time{}, "header alg is not none"
	}
	var claims map[string]any
	if err := decodeJSONPart(parts[1], &claims); err != nil {
		return "", time.Time{}, "bad claims: " + err.Error()
	}
	sub, _ = claims["sub"].(string)
	if strings.TrimSpace(sub) == "" {
		return "", time.Time{}, "no sub claim"
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return "", time.Time{}, "no exp claim"
	}
	nowSec := float64(now.UnixMilli()) / 1000
	if exp <= nowSec {
		return "", time.Time{}, "token expired"
	}
	if iat, ok := claims["iat"].(float64); ok && iat > nowSec {
		return "", time.Time{}, "token issued in the future"
	}
	return sub, time.UnixMilli(int64(exp * 1000)), ""
}

func decodeJSONPart(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

type errorString string

func (e errorString) Error() string { return string(e) }
