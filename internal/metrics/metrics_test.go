package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// counter reads the value of name{topic=topic} from Registry.
func counter(t *testing.T, name, topic string) (float64, bool) {
	t.Helper()
	mfs, err := Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "topic" && l.GetValue() == topic {
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func TestTopicCounters(t *testing.T) {
	Produced("mt-a", 100, 3, false)
	Produced("mt-a", 50, 2, false)
	Produced("mt-a", 70, 9, true)
	Fetched("mt-a", 120, 4)
	Fetched("mt-a", 0, 0)
	for name, want := range map[string]float64{
		"kafka_server_brokertopicmetrics_bytesin_total":               150,
		"kafka_server_brokertopicmetrics_messagesin_total":            5,
		"kafka_server_brokertopicmetrics_failedproducerequests_total": 1,
		"kafka_server_brokertopicmetrics_totalproducerequests_total":  3,
		"kafka_server_brokertopicmetrics_bytesout_total":              120,
		"kafka_server_brokertopicmetrics_messagesout_total":           4,
		"kafka_server_brokertopicmetrics_totalfetchrequests_total":    2,
	} {
		if v, _ := counter(t, name, "mt-a"); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	ForgetTopic("mt-a")
	if _, ok := counter(t, "kafka_server_brokertopicmetrics_bytesin_total", "mt-a"); ok {
		t.Error("a forgotten topic still has series")
	}
	Produced("mt-a", 10, 1, false) // recreated: starts from zero
	if v, _ := counter(t, "kafka_server_brokertopicmetrics_bytesin_total", "mt-a"); v != 10 {
		t.Errorf("after recreation: %v", v)
	}
}

func TestHandler(t *testing.T) {
	Request(0, "Produce", 3*time.Millisecond)
	Fsync(time.Millisecond)
	ready := false
	h := Handler(func() error {
		if !ready {
			return io.EOF
		}
		return nil
	}, State{
		Partitions: func() []PartitionStat {
			return []PartitionStat{{Topic: "t", Partition: 1, Size: 42, StartOffset: 1, EndOffset: 9, HighWater: 9}}
		},
		Groups:     func() []GroupLag { return []GroupLag{{Group: "g", Topic: "t", Partition: 1, Committed: 4, Lag: 5}} },
		Controller: true,
	})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz before ready: %d", code)
	}
	ready = true
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{
		`kafka_log_log_size{partition="1",topic="t"} 42`,
		`kafka_consumergroup_lag{consumergroup="g",partition="1",topic="t"} 5`,
		`kafka_network_requestmetrics_requests_total{request="Produce"}`,
		`kafka_log_logflushstats_logflush_seconds_count`,
		`kafka_controller_kafkacontroller_activecontrollercount 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9644":       "127.0.0.1:9644",
		"http://0.0.0.0:9644/metrics": "0.0.0.0:9644",
		" 127.0.0.1:0 ":               "127.0.0.1:0",
		"http://[::1]:9644":           "[::1]:9644",
	} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"nonsense", "http://host", ""} {
		if _, err := ListenAddr(bad); err == nil {
			t.Errorf("ListenAddr(%q) accepted", bad)
		}
	}
}

// TestReplicationGauges: the per-broker replication gauges count the
// partitions the State reports, the per-partition follower lag is a
// series only where it is known, and the offline count is reported only
// by the active controller.
func TestReplicationGauges(t *testing.T) {
	controller := false
	s := State{
		Partitions: func() []PartitionStat {
			return []PartitionStat{
				{Topic: "r", Partition: 0, UnderReplicated: true, UnderMinISR: true},
				{Topic: "r", Partition: 1, UnderReplicated: true, AtMinISR: true},
				{Topic: "r", Partition: 2, AtMinISR: true},
				{Topic: "r", Partition: 3, Follower: true, Lag: 7, LagKnown: true},
				{Topic: "r", Partition: 4, Follower: true},
			}
		},
		IsController:      func() bool { return controller },
		OfflinePartitions: func() int { return 2 },
	}
	scrape := func() string {
		rec := httptest.NewRecorder()
		Handler(func() error { return nil }, s).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	body := scrape()
	for _, want := range []string{
		"kafka_server_replicamanager_leadercount 3\n",
		"kafka_server_replicamanager_underreplicatedpartitions 2\n",
		"kafka_server_replicamanager_underminisrpartitioncount 1\n",
		"kafka_server_replicamanager_atminisrpartitioncount 2\n",
		`kafka_server_fetcherlagmetrics_consumerlag{partition="3",topic="r"} 7` + "\n",
		"kafka_controller_kafkacontroller_offlinepartitionscount 0\n",
		"kafka_controller_kafkacontroller_activecontrollercount 0\n",
		"kafka_server_replicamanager_isrshrinks_total ",
		"kafka_server_replicamanager_isrexpands_total ",
		"kafka_server_replicamanager_failedisrupdates_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `consumerlag{partition="4"`) {
		t.Error("a lag series for a partition without a fetch answer")
	}
	controller = true
	if body := scrape(); !strings.Contains(body, "kafka_controller_kafkacontroller_offlinepartitionscount 2\n") {
		t.Error("the active controller does not report its offline partitions")
	}
}

// TestISRCounters: each call counts one change.
func TestISRCounters(t *testing.T) {
	read := func(name string) float64 {
		mfs, err := Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	s, e, f := read("kafka_server_replicamanager_isrshrinks_total"), read("kafka_server_replicamanager_isrexpands_total"),
		read("kafka_server_replicamanager_failedisrupdates_total")
	ISRShrunk()
	ISRExpanded()
	ISRExpanded()
	ISRUpdateFailed()
	if got := read("kafka_server_replicamanager_isrshrinks_total") - s; got != 1 {
		t.Errorf("shrinks +%v, want +1", got)
	}
	if got := read("kafka_server_replicamanager_isrexpands_total") - e; got != 2 {
		t.Errorf("expands +%v, want +2", got)
	}
	if got := read("kafka_server_replicamanager_failedisrupdates_total") - f; got != 1 {
		t.Errorf("failed +%v, want +1", got)
	}
}
