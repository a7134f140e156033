package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(17, 0, 1, handleSaslHandshake) }

// handleSaslHandshake answers a SaslHandshake that reaches the handler: on
// a listener without SASL, or after the connection authenticated (the
// server handles the handshake of a SASL listener before that). As in
// KafkaApis that is ILLEGAL_SASL_STATE: there is no re-authentication
// (connections.max.reauth.ms is 0).
func handleSaslHandshake(e *Env, req *server.Request) server.Reply {
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return reply(resp)
}
