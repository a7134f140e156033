package integration

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// jsonLogBroker runs `sluice serve --log-format json` and collects its
// log lines as parsed objects.
type jsonLogBroker struct {
	addr  string
	lines chan map[string]any
}

func startJSONLogBroker(t *testing.T) *jsonLogBroker {
	t.Helper()
	cmd := exec.Command(sluiceBinary(t), "serve", "--listeners", "PLAINTEXT://127.0.0.1:0", "--log-dirs", t.TempDir(), "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	b := &jsonLogBroker{lines: make(chan map[string]any, 1000)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"msg": "NOT JSON: " + sc.Text()}
			}
			b.lines <- m
		}
		close(b.lines)
	}()
	for {
		select {
		case m, ok := <-b.lines:
			if !ok {
				t.Fatal("broker exited before starting")
			}
			if s, _ := m["msg"].(string); strings.HasPrefix(s, "NOT JSON") {
				t.Fatalf("log line is not JSON: %s", s)
			}
			if m["msg"] == "sluice started" {
				b.addr, _ = m["listener"].(string)
				return b
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no start line")
		}
	}
}

// drain returns the lines logged within d.
func (b *jsonLogBroker) drain(d time.Duration) []map[string]any {
	var out []map[string]any
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-b.lines:
			if !ok {
				return out
			}
			out = append(out, m)
		case <-deadline:
			return out
		}
	}
}

// TestServeLogs checks JSON logs: no line per record or request at the
// default level, and one line for a connection error naming the client id
// and address.
func TestServeLogs(t *testing.T) {
	b := startJSONLogBroker(t)
	topic := topicName(t, "logs")
	cliOK(t, b.addr, "topic", "create", topic)
	cl := newClient(t, b.addr, kgo.DefaultProduceTopic(topic))
	for range 20 {
		var rs []*kgo.Record
		for range 10 {
			rs = append(rs, &kgo.Record{Value: []byte("v")})
		}
		produceSync(t, cl, rs...)
	}
	cliOK(t, b.addr, "consume", topic, "--from", "beginning", "-n", "200")
	if lines := b.drain(500 * time.Millisecond); len(lines) > 3 {
		t.Errorf("%d log lines for 200 records in 20 requests and a consume; want only the topic creation:\n%v", len(lines), lines)
	}

	// A client that sends an ApiVersions request, then a request of an
	// unsupported version.
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := func(key, version int16, clientID string) []byte {
		body := binary.BigEndian.AppendUint16(nil, uint16(key))
		body = binary.BigEndian.AppendUint16(body, uint16(version))
		body = binary.BigEndian.AppendUint32(body, 1)
		body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
		body = append(body, clientID...)
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	c.Write(frame(18, 0, "log-test-client"))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:])))
	c.Write(frame(0, 99, "log-test-client")) // Produce v99: the broker closes the connection
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c)

	var closes []map[string]any
	for _, m := range b.drain(time.Second) {
		if m["client_id"] == "log-test-client" {
			closes = append(closes, m)
		}
	}
	if len(closes) != 1 || closes[0]["remote"] != c.LocalAddr().String() || closes[0]["level"] != "INFO" {
		t.Errorf("want one line naming the client and its address %s, got %v", c.LocalAddr(), closes)
	}
}
