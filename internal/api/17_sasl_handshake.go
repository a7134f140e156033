package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(17, 0, 1, handleSaslHandshake) }

// handleSaslHandshake answers a SaslHandshake that reaches the handler: on
// a listener without SASL, or after the connection authenticated (the
// server handles the handshake of a SASL listener before that, and one that
// starts a re-authentication: internal/server/reauth.go). As in KafkaApis
// that is ILLEGAL_SASL_STATE: the session has no lifetime, or the last
// re-authentication began less than a second ago.
func handleSaslHandshake(e *Env, req *server.Request) server.Reply {
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return reply(resp)
}
