package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// createSCRAM creates SCRAM credentials through the broker's PLAINTEXT
// listener at addr (AlterUserScramCredentials, as kafka-configs.sh
// --alter --add-config 'SCRAM-SHA-256=[password=...]' would).
func createSCRAM(ctx context.Context, addr string, creds ...kadm.UpsertSCRAM) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, c := range creds {
		res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{c})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			return fmt.Errorf("create SCRAM credential %s/%s: %w", c.User, c.Mechanism, err)
		}
	}
	return nil
}
