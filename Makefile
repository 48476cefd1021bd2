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

.PHONY: all build run echo test test-short soak bench fuzz lint deps clean

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

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Mixed traffic through nic/fault for SOAK_TIME, every byte verified, then a
# check that slab, connections, timers, goroutines and fds are back at their
# baseline (needs root, like test; a 20 s form runs in make test).
soak: deps
	@if [ "$$(id -u)" != 0 ]; then echo "make soak: the namespace and TAP device need root: run 'sudo make soak'" >&2; exit 1; fi
	$(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./internal/soak/ -soak.time=$(SOAK_TIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

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
