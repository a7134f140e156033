package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(36, 0, 2, handleSaslAuthenticate) }

// handleSaslAuthenticate answers a SaslAuthenticate that reaches the
// handler (no SASL on the listener, or already authenticated) with
// KafkaApis' ILLEGAL_SASL_STATE.
func handleSaslAuthenticate(e *Env, req *server.Request) server.Reply {
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.ErrorCode = kerr.IllegalSaslState.Code
	msg := "SaslAuthenticate request received after successful authentication"
	resp.ErrorMessage = &msg
	return reply(resp)
}
