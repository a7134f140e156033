package sasl

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"
)

func unsecuredToken(header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "."
}

func TestOAuthBearerUnsecured(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	first := func(authzid, token string) []byte {
		return []byte("n," + authzid + ",\x01auth=Bearer " + token + "\x01\x01")
	}
	valid := unsecuredToken(`{"alg":"none"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, now.Unix()+60))
	ex := newOAuthBearer(func() time.Time { return now })
	if reply, done, err := ex.Step(first("", valid)); err != nil || !done || len(reply) != 0 || ex.User() != "alice" {
		t.Fatalf("valid token: %q %v %v user %q", reply, done, err, ex.User())
	}
	ex = newOAuthBearer(func() time.Time { return now })
	if _, _, err := ex.Step(first("a=bob", valid)); err == nil {
		t.Fatal("authzid other than the token's principal accepted")
	}
	for name, tok := range map[string]string{
		"expired":   unsecuredToken(`{"alg":"none"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, now.Unix()-1)),
		"no exp":    unsecuredToken(`{"alg":"none"}`, `{"sub":"alice"}`),
		"no sub":    unsecuredToken(`{"alg":"none"}`, fmt.Sprintf(`{"exp":%d}`, now.Unix()+60)),
		"signed":    unsecuredToken(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, now.Unix()+60)) + "sig",
		"alg":       unsecuredToken(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, now.Unix()+60)),
		"future":    unsecuredToken(`{"alg":"none"}`, fmt.Sprintf(`{"sub":"alice","exp":%d,"iat":%d}`, now.Unix()+60, now.Unix()+30)),
		"not a jws": "abc",
	} {
		ex := newOAuthBearer(func() time.Time { return now })
		reply, done, err := ex.Step(first("", tok))
		if err != nil || done || string(reply) != `{"status":"invalid_token"}` {
			t.Errorf("%s: %q %v %v, want the invalid_token challenge", name, reply, done, err)
			continue
		}
		if _, _, err := ex.Step([]byte{1}); err == nil || err.Error() != `{"status":"invalid_token"}` {
			t.Errorf("%s: after the client's 0x01: %v", name, err)
		}
	}
	if _, _, err := newOAuthBearer(nil).Step([]byte("y,,\x01auth=Bearer x\x01\x01")); err == nil {
		t.Error("channel binding flag y accepted")
	}
}
