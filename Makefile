# shardnet — see README.md.
GO        ?= go
BIN       := bin
IFACE     ?= shn0
ADDR      ?= 198.18.0.2/24
HOST_ADDR ?= 198.18.0.1/24
SHARDS    ?= 1
FUZZTIME  ?= 20s
SOAK_TIME ?= 10m
BENCHTIME ?= 1s
PKGS      := ./...

.PHONY: all build run echo test test-short soak bench bench-micro fuzz lint deps clean

all: build

build:
	$(GO) build -o $(BIN)/ ./examples/...

deps:
	@./scripts/deps.sh

# Serves the stack on a TAP device (needs root or CAP_NET_ADMIN).
run: deps build
	@if [ "$$(id -u)" != 0 ]; then echo "make run: creating the TAP device $(IFACE) needs root (or CAP_NET_ADMIN): run 'sudo make run'" >&2; exit 1; fi
	$(BIN)/httpd -driver tap -iface $(IFACE) -addr $(ADDR) -host-addr $(HOST_ADDR) -shards $(SHARDS)

# Serves TCP echo on port 7 of the same address.
echo: deps build
	@if [ "$$(id -u)" != 0 ]; then echo "make echo: creating the TAP device $(IFACE) needs root (or CAP_NET_ADMIN): run 'sudo make echo'" >&2; exit 1; fi
	$(BIN)/echo -driver tap -iface $(IFACE) -addr $(ADDR) -host-addr $(HOST_ADDR) -shards $(SHARDS)

# Unit tests, the namespace integration tests (as root; they skip otherwise,
# saying why) and lint. -race covers the lock-free shard code.
test: deps lint
	$(GO) test -race -count=1 -timeout 12m $(PKGS)
	cd perf && $(GO) vet ./... && $(GO) test -count=1 ./...

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Mixed traffic through nic/fault for SOAK_TIME, every byte verified, then a
# check that slab, connections, timers, goroutines and fds are back at their
# baseline (needs root, like test; a 20 s form runs in make test).
soak: deps
	@if [ "$$(id -u)" != 0 ]; then echo "make soak: the namespace and TAP device need root: run 'sudo make soak'" >&2; exit 1; fi
	$(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./internal/soak/ -soak.time=$(SOAK_TIME)

# shardnet's httpd (AF_XDP, TAP, kernel backend) against net/http, fasthttp
# and nginx, in namespaces it builds and removes; results in perf/results/.
# BENCH_QUICK=1 runs a 2-minute subset; BENCH_ARGS passes more flags
# (e.g. -rounds 5 -duration 20s -shards 2 -servers nginx,shardnet-afxdp).
bench: deps
	@if [ "$$(id -u)" != 0 ]; then echo "make bench: namespaces and XDP need root: run 'sudo make bench'" >&2; exit 1; fi
	cd perf && $(GO) run ./cmd/bench -repo .. -out results $(if $(BENCH_QUICK),-quick) $(BENCH_ARGS)

# Go micro-benchmarks of the hot paths (allocs/op included), ready for
# benchstat: perf/results/micro-<date>.txt. BENCHCOUNT=10 for benchstat's
# confidence intervals; BENCH=regexp to pick some.
BENCHCOUNT ?= 1
BENCH      ?= .
bench-micro:
	@mkdir -p perf/results
	@out=perf/results/micro-$$(date +%Y-%m-%dT%H%M).txt; \
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $(PKGS) > $$out; rc=$$?; \
	cat $$out; echo "bench-micro: wrote $$out" >&2; exit $$rc

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf $(BIN)
