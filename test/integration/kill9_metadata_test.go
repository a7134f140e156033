package integration

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKill9MidAdmin SIGKILLs the binary while topics are being created,
// grown and deleted; after a restart every acknowledged change is there
// (topic IDs, partition counts, configs) and acknowledged deletions stay
// deleted.
func TestKill9MidAdmin(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir)

	cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	type topicState struct {
		id         kadm.TopicID
		partitions int
		retention  string
		deleted    bool
	}
	var (
		mu    sync.Mutex
		acked = map[string]*topicState{}
		ops   int
		// uncertain is the topic whose last operation was cut off by the
		// kill: it may or may not have been applied.
		uncertain string
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			name := fmt.Sprintf("k9m-%05d", i)
			retention := strconv.Itoa(3_600_000 + i)
			r, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": &retention}, name)
			if err != nil || r.Err != nil {
				uncertain = name
				return
			}
			mu.Lock()
			acked[name] = &topicState{id: r.ID, partitions: 2, retention: retention}
			ops++
			mu.Unlock()
			switch i % 3 {
			case 1:
				rs, err := adm.UpdatePartitions(ctx, 3, name)
				if err != nil || rs[name].Err != nil {
					uncertain = name
					return
				}
				mu.Lock()
				acked[name].partitions = 3
				ops++
				mu.Unlock()
			case 2:
				rs, err := adm.DeleteTopics(ctx, name)
				if err != nil || rs[name].Err != nil {
					uncertain = name
					return
				}
				mu.Lock()
				acked[name].deleted = true
				ops++
				mu.Unlock()
			}
		}
	}()
	waitFor(t, 60*time.Second, "60 acknowledged admin operations", func() error {
		mu.Lock()
		defer mu.Unlock()
		if ops < 60 {
			return fmt.Errorf("%d so far", ops)
		}
		return nil
	})
	p.kill()
	cancel()
	<-done
	cl.Close()
	t.Logf("%d admin operations acknowledged before SIGKILL; cut off: %q", ops, uncertain)

	p = startProc(t, dir)
	adm2 := newAdmin(t, p.addr)
	ctx2 := testCtx(t, 30*time.Second)
	td, err := adm2.ListTopics(ctx2)
	if err != nil {
		t.Fatalf("list topics after restart: %v", err)
	}
	var live []string
	for name, want := range acked {
		if name == uncertain {
			continue
		}
		got, ok := td[name]
		switch {
		case want.deleted && ok:
			t.Errorf("%s: deletion was acknowledged, but the topic is back", name)
		case want.deleted:
		case !ok:
			t.Errorf("%s: creation was acknowledged, but the topic is gone", name)
		case got.ID != want.id || len(got.Partitions) != want.partitions:
			t.Errorf("%s: ID %v with %d partitions, want %v with %d", name, got.ID, len(got.Partitions), want.id, want.partitions)
		default:
			live = append(live, name)
		}
	}
	if len(live) > 0 {
		rcs, err := adm2.DescribeTopicConfigs(ctx2, live...)
		if err != nil {
			t.Fatalf("describe configs: %v", err)
		}
		for _, name := range live {
			rc, err := rcs.On(name, nil)
			if err != nil || rc.Err != nil {
				t.Errorf("describe %s: %v / %v", name, err, rc.Err)
				continue
			}
			checkConfig(t, rc, "retention.ms", acked[name].retention, kmsg.ConfigSourceDynamicTopicConfig)
		}
	}
	// The recovered broker takes new changes.
	createTopic(t, adm2, topicName(t, "after"), 1, nil)
}
