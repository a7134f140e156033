package broker

import (
	"net"
	"time"
)

// admit applies connection_creation_rate to a new connection (server.Config.Admit).
func (b *Broker) admit(remote net.Addr) time.Duration {
	tcp, ok := remote.(*net.TCPAddr)
	if !ok {
		return 0
	}
	return b.quotas.Connection(tcp.IP)
}
