package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestWriteOutPaths: a response of byte runs and file ranges reaches the
// peer byte for byte both through sendfile (TCP) and through writeCopy
// (any other connection, as TLS), and a file shorter than its range is an
// error on both.
func TestWriteOutPaths(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB: several copy buffers
	path := filepath.Join(t.TempDir(), "seg")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := &out{parts: []part{{buf: []byte("head")}, {file: FilePart{File: f, Pos: 3, Len: int64(len(data)) - 10}}, {buf: []byte("mid")},
		{file: FilePart{File: f, Pos: 0, Len: 5}}, {buf: []byte("tail")}}}
	want := append(append(append(append([]byte("head"), data[3:len(data)-7]...), "mid"...), data[:5]...), "tail"...)
	short := &out{parts: []part{{file: FilePart{File: f, Pos: int64(len(data)) - 4, Len: smallCopyMax + 1}}}} // past the copy threshold: sendfile on TCP
	// A tailing consumer's answer: a few records, copied into one write.
	small := &out{parts: []part{{buf: []byte("head")}, {file: FilePart{File: f, Pos: 7, Len: 3000}}, {buf: []byte("tail")}}}
	wantSmall := append(append([]byte("head"), data[7:3007]...), "tail"...)
	if copySmall(o) || !copySmall(small) || copySmall(&out{parts: []part{{buf: []byte("no file")}}}) {
		t.Fatal("copySmall: want sendfile for 320 KB of file bytes, a copy for 3,000, and neither without a file")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcp := func() (net.Conn, net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	for name, pair := range map[string]func() (net.Conn, net.Conn){"tcp": tcp, "pipe": func() (net.Conn, net.Conn) { return net.Pipe() }} {
		w, r := pair()
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(r); got <- b }()
		if err := writeOut(w, o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := writeOut(w, small); err != nil {
			t.Fatalf("%s: small: %v", name, err)
		}
		if err := writeOut(w, short); !errors.Is(err, errShortFile) {
			t.Errorf("%s: short file: %v", name, err)
		}
		w.Close()
		want := append(slices.Clone(want), wantSmall...)
		if b := <-got; !bytes.Equal(b[:min(len(b), len(want))], want) {
			t.Errorf("%s: %d bytes differ from the %d expected", name, len(b), len(want))
		}
		r.Close()
	}
}

// selfSignedTLS is a throwaway server certificate for the benchmark.
func selfSignedTLS(b *testing.B) tls.Certificate {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// BenchmarkWriteOutFetch writes a fetch-like response (a header and 1 MiB
// of log file) to a loopback peer that discards it: sendfile on plain TCP,
// writeCopy and encryption on TLS (AES-GCM, TLS 1.3).
func BenchmarkWriteOutFetch(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 1<<20)
	path := filepath.Join(b.TempDir(), "seg")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	o := &out{parts: []part{{buf: make([]byte, 100)}, {file: FilePart{File: f, Len: int64(len(data))}}, {buf: make([]byte, 20)}}}
	cert := selfSignedTLS(b)
	for _, mode := range []string{"plaintext", "tls"} {
		b.Run(mode, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			var w, r net.Conn = s, c
			if mode == "tls" {
				ts := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}})
				tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
				go func() { _ = tc.Handshake() }()
				if err := ts.Handshake(); err != nil {
					b.Fatal(err)
				}
				w, r = ts, tc
			}
			done := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, r); close(done) }()
			b.SetBytes(int64(len(data)) + 120)
			b.ResetTimer()
			for range b.N {
				if err := writeOut(w, o); err != nil {
					b.Fatal(err)
				}
			}
			w.Close()
			<-done
		})
	}
}
