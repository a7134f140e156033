package testcluster

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echoNode listens on loopback, registers the address as node i and
// echoes every byte back on each accepted connection.
func echoNode(t *testing.T, n *network, i int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	n.register(ln.Addr().String(), i)
	return ln.Addr().String()
}

func dial(t *testing.T, n *network, src int, addr string) net.Conn {
	t.Helper()
	c, err := n.dialer(src)(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %d: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes b and reads it back within d.
func roundTrip(c net.Conn, b string, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(b)); err != nil {
		return err
	}
	got := make([]byte, len(b))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != b {
		return errors.New("echo mismatch: " + string(got))
	}
	return nil
}

func TestNetworkCut(t *testing.T) {
	n := newNetwork()
	a1 := echoNode(t, n, 1)
	c := dial(t, n, 0, a1)
	if err := roundTrip(c, "hi", time.Second); err != nil {
		t.Fatal(err)
	}
	n.setCut(0, 1, true)
	// The open connection is closed, a new one refused, in both
	// directions; other links are untouched.
	if err := roundTrip(c, "x", time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after a cut: %v, want net.ErrClosed", err)
	}
	for _, src := range []int{0} {
		if _, err := n.dialer(src)(context.Background(), "tcp", a1); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial across a cut: %v, want ECONNREFUSED", err)
		}
	}
	a0 := echoNode(t, n, 0)
	if _, err := n.dialer(1)(context.Background(), "tcp", a0); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial back across a cut: %v, want ECONNREFUSED", err)
	}
	if err := roundTrip(dial(t, n, 2, a1), "ok", time.Second); err != nil {
		t.Fatalf("node 2 to node 1 with 0-1 cut: %v", err)
	}
	n.setCut(0, 1, false)
	if err := roundTrip(dial(t, n, 0, a1), "back", time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}

	// Clients: cut from one node only.
	n.setClientsCut(1, true)
	if _, err := n.dialer(client)(context.Background(), "tcp", a1); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("client dial to a node cut from clients: %v", err)
	}
	if err := roundTrip(dial(t, n, client, a0), "ok", time.Second); err != nil {
		t.Fatalf("client to node 0: %v", err)
	}
	n.healAll()
	if n.open() == 0 {
		t.Fatal("no connection tracked")
	}
}

func TestNetworkPause(t *testing.T) {
	n := newNetwork()
	a1 := echoNode(t, n, 1)
	c := dial(t, n, 0, a1)
	if err := roundTrip(c, "hi", time.Second); err != nil {
		t.Fatal(err)
	}
	// A read already waiting when the pause starts does not hand over
	// the bytes that arrive during it.
	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 4)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.ReadFull(c, buf)
		if err == nil && string(buf) != "late" {
			err = errors.New("got " + string(buf))
		}
		readDone <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the reader block in the kernel (not synchronisation of the result)
	n.pause(1)
	// The write passes the gate only after the pause ends: it stalls
	// and hits its deadline.
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a paused node: %v, want a deadline error", err)
	}
	c.SetWriteDeadline(time.Time{})
	// A new connection opens (the kernel accepts) but stalls too.
	c2 := dial(t, n, 2, a1)
	if err := roundTrip(c2, "x", 100*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("round trip to a paused node: %v, want a deadline error", err)
	}
	select {
	case err := <-readDone:
		t.Fatalf("read returned during the pause: %v", err)
	default:
	}
	n.resume(1)
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatalf("read after resume: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after resume")
	}
	// Closing a stalled connection unblocks it.
	n.pause(1)
	errc := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); errc <- err }()
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed stalled connection: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not unblock a stalled read")
	}
	n.resume(1)
}
