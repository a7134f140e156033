# Sluice make targets. `make run` starts a single-node broker on
# 127.0.0.1:9092 with data in ./data; `make cluster` three nodes on
# 127.0.0.1:9092-9094 with data in ./data/node-N; `make test` runs every test.
GO ?= go
PKGS := ./...

.PHONY: run cluster build test test-short vet fmt fuzz bench bench-latency kcat-smoke compat compat-cluster compat-rdkafka chaos

# The web console (docs/CONSOLE.md) is on http://127.0.0.1:8080 in both.
run:
	$(GO) run ./cmd/sluice serve --override console.listener=http://127.0.0.1:8080

# A local three-node cluster in the foreground (Ctrl-C stops it);
# NODES=5 for more, DEV_CLUSTER_FLAGS=--processes for one process per node.
NODES ?= 3
DEV_CLUSTER_FLAGS ?=
cluster:
	$(GO) run ./cmd/sluice dev-cluster --nodes $(NODES) $(DEV_CLUSTER_FLAGS)

build:
	$(GO) build -o bin/sluice ./cmd/sluice

# Every test: unit, fuzz seed corpora (run as regression tests), integration
# through franz-go over TCP, the kcat smoke test when kcat is installed, and
# each benchmark once (to prove it runs; figures live in docs/BENCHMARKS.md).
test: vet
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# Longer fuzzing sessions (not part of make test).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRequest -fuzztime $(FUZZTIME) ./internal/server/
	$(GO) test -run '^$$' -fuzz FuzzValidate -fuzztime $(FUZZTIME) ./internal/record/
	$(GO) test -run '^$$' -fuzz FuzzRecords -fuzztime $(FUZZTIME) ./internal/record/
	$(GO) test -run '^$$' -fuzz FuzzRecovery -fuzztime $(FUZZTIME) ./internal/log/
	$(GO) test -run '^$$' -fuzz FuzzSnapshot -fuzztime $(FUZZTIME) ./internal/share/
	$(GO) test -run '^$$' -fuzz FuzzReplay -fuzztime $(FUZZTIME) ./internal/coordinator/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./internal/metadata/

bench:
	$(GO) run ./cmd/sluice bench --embedded --kfake

# Durable ack latency against the disk floor (issue #21): ROUNDS runs of the
# pinned latency phase, each Sluice's percentiles divided by the adjacent
# disk floors of the same run; prints every round and the median and range.
# ROUNDS, RATE, DURATION, PARTITIONS, SIZE as environment or make variables.
bench-latency:
	ROUNDS=$(or $(ROUNDS),5) RATE=$(or $(RATE),5000) DURATION=$(or $(DURATION),10s) PARTITIONS=$(or $(PARTITIONS),3) \
		scripts/bench-latency.sh

# The clients' own integration suites (franz-go kgo, kgo again with every
# client on mutual TLS, segmentio/kafka-go, a kcat session with SSL
# checks) against a freshly started broker each; prints one table
# and fails on a failure not explained in compat/known_failures.txt.
# Needs unshare and ip (kafka-go's suite runs in a private network
# namespace). docs/COMPATIBILITY.md has the results and the causes.
COMPAT_FLAGS ?=
compat:
	cd compat && $(GO) test -count=1 ./runner && $(GO) build -o .out/runner ./runner && ./.out/runner $(COMPAT_FLAGS)

# The same suites against a cluster of three combined broker+controller
# nodes (formatted, one metadata quorum; Kafka's replicated defaults:
# internal topics, default.replication.factor and the kgo suite's topics
# at RF 3, min.insync.replicas 2 for kgo; kafka-go makes RF 1 topics).
# Entries of known_failures.txt marked cluster:<suite> apply only here. Not part of CI's default path
# (docs/COMPATIBILITY.md has how long it takes).
compat-cluster:
	cd compat && $(GO) test -count=1 ./runner && $(GO) build -o .out/runner ./runner && ./.out/runner -cluster 3 $(COMPAT_FLAGS)

# KIP-848 consumer groups (group.protocol=consumer) through librdkafka:
# node-rdkafka pinned in compat/rdkafka-kip848/package.json, which builds
# its bundled librdkafka on the first run (needs npm, a C/C++ toolchain,
# python3; several minutes). Two consumers share a topic's partitions and
# commit, one leaves, the other takes over; regex and static members; SASL
# re-authentication (KIP-368). Not part of `make test` or CI.
compat-rdkafka:
	compat/rdkafka-kip848/run.sh

# The seeded fault schedule (test/cluster/chaos_test.go) over many more
# seeds than CI's five: CHAOS_SEEDS seeds from CHAOS_FIRST, CHAOS_FAULTS
# faults each, CHAOS_PARALLEL clusters at a time. A failing seed prints
# its schedule and the command that replays it (-chaos.seed=N).
CHAOS_FIRST ?= 1000
CHAOS_SEEDS ?= 40
CHAOS_FAULTS ?= 60
CHAOS_PARALLEL ?= 4
chaos:
	$(GO) test -count=1 -timeout 120m -run '^TestChaos$$' ./test/cluster/ \
		-chaos.first=$(CHAOS_FIRST) -chaos.seeds=$(CHAOS_SEEDS) -chaos.faults=$(CHAOS_FAULTS) -chaos.parallel=$(CHAOS_PARALLEL)
