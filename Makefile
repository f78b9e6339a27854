# Keeper's build, test and demo targets. Every target that needs a ZooKeeper
# server installs one first (scripts/install-zookeeper: releases from the
# Maven registry, cached between runs; see the README's "Versions tested").
#
#   make test                          the version matrix (below)
#   make test ZOOKEEPER_VERSION=3.7.2  the whole suite on one release
#   make test ZOOKEEPER_VERSION=debian the whole suite on Debian's 3.8.0

GO        ?= go
PKGS      := ./...
# Every module of the tree (go.work ties them together): the library, the
# CLI (its own module, so that the library's go.mod requires nothing), the
# browser tests of keeper web (chromedp, kept out of both), bench and chaos
# (porcupine, likewise), the metrics adapters metrics/otel and metrics/prom
# (OpenTelemetry, Prometheus).
MODULES   := . cmd/keeper cmd/keeper/webtest bench chaos metrics/otel metrics/prom
FUZZTIME  ?= 60s
# CI's fuzzing is bounded by a count of inputs, not a duration: Go 1.26's
# fuzz coordinator can fail a duration-bounded run with a bare "context
# deadline exceeded" (golang/go#75804).
CIFUZZ    ?= 20000x

# The version matrix: the whole suite on ZK_MAIN; MATRIX_PKGS (the root
# package, recipe/watch, recipe/cache and the recipes) on the newest 3.8
# and on the oldest line the registry serves, where each line's missing
# operations must fail with ErrUnimplemented. ZOOKEEPER_VERSION=x runs the
# whole suite on x alone.
ZK_MAIN     := 3.9.5
ZK_38       := 3.8.6
ZK_OLDEST   := 3.5.10
MATRIX_PKGS := . ./recipe/...
ZOOKEEPER_VERSION ?=
ZK_VERSIONS := $(if $(ZOOKEEPER_VERSION),$(ZOOKEEPER_VERSION),$(ZK_MAIN) $(ZK_38) $(ZK_OLDEST))
PROFILE   ?=
DURATION  ?= 10m
SEED      ?= 0

.PHONY: all deps sandbox-deps test check vet fmt-check race fuzz fuzz-short chaos chaos-short sandbox bench clean

all: check

# deps installs everything the tests need (servers of every version tested,
# Kazoo and Curator peers, a JDK, Chromium); sandbox-deps only a Java runtime
# and one server.
deps:
	@bash scripts/install-zookeeper --set tests $(ZK_VERSIONS)

sandbox-deps:
	@bash scripts/install-zookeeper --set sandbox $(if $(ZOOKEEPER_VERSION),$(ZOOKEEPER_VERSION),$(ZK_MAIN))

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "vet $$m"; (cd $$m && $(GO) vet $(PKGS)) || exit 1; done

# race runs the matrix (or the whole suite on ZOOKEEPER_VERSION) under the
# race detector, every part even after one failed, prints how long each part
# took, and fails if any part did. The older lines run the tests, not the
# runnable examples: those show the current API (MultiGet, Watch...) and run
# on ZK_MAIN.
race: deps
	@fail=0; v=$(if $(ZOOKEEPER_VERSION),$(ZOOKEEPER_VERSION),$(ZK_MAIN)); \
	t0=$$(date +%s); echo "== whole suite on ZooKeeper $$v"; \
	for m in $(MODULES); do (cd $$m && ZOOKEEPER_VERSION=$$v $(GO) test -race -count=1 -timeout 20m $(PKGS)) || fail=1; done; \
	echo "== whole suite on ZooKeeper $$v: $$(( $$(date +%s) - t0 ))s"; \
	for v in $(if $(ZOOKEEPER_VERSION),,$(ZK_38) $(ZK_OLDEST)); do \
	  t0=$$(date +%s); echo "== $(MATRIX_PKGS) on ZooKeeper $$v"; \
	  ZOOKEEPER_VERSION=$$v $(GO) test -race -count=1 -timeout 20m -run '^(Test|Fuzz)' $(MATRIX_PKGS) || fail=1; \
	  echo "== $(MATRIX_PKGS) on ZooKeeper $$v: $$(( $$(date +%s) - t0 ))s"; \
	done; \
	exit $$fail

# fuzz-short runs each fuzz target on CIFUZZ inputs (CI); fuzz runs each for FUZZTIME.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(CIFUZZ)

fuzz:
	$(GO) test ./internal/wire -run='^$$' -fuzz='^FuzzDecodeRequest$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/wire -run='^$$' -fuzz='^FuzzDecodeResponse$$' -fuzztime=$(FUZZTIME)
	$(GO) test . -run='^$$' -fuzz='^FuzzParse4lw$$' -fuzztime=$(FUZZTIME)
	$(GO) test . -run='^$$' -fuzz='^FuzzParseConnectString$$' -fuzztime=$(FUZZTIME)
	$(GO) test . -run='^$$' -fuzz='^FuzzValidatePath$$' -fuzztime=$(FUZZTIME)
	$(GO) test . -run='^$$' -fuzz='^FuzzParseDigestChallenge$$' -fuzztime=$(FUZZTIME)
	cd cmd/keeper && $(GO) test . -run='^$$' -fuzz='^FuzzInput$$' -fuzztime=$(FUZZTIME)

# chaos runs 6 clients on a 3-member ensemble under seeded faults for
# DURATION and checks what they saw (chaos/README.md); SEED=n replays a run,
# 0 picks a seed. chaos-short is the 2-minute run of make test.
chaos: sandbox-deps
	cd chaos && ZOOKEEPER_VERSION=$(if $(ZOOKEEPER_VERSION),$(ZOOKEEPER_VERSION),$(ZK_MAIN)) \
	  $(GO) run -race . -duration $(DURATION) -seed $(SEED)

chaos-short:
	@$(MAKE) --no-print-directory chaos DURATION=2m

# test is what CI runs: formatting, vet, the whole suite under the race
# detector against real servers, a short fuzz run of every target and a
# 2-minute chaos run.
test: deps fmt-check vet race fuzz-short chaos-short

check: test

# sandbox starts a throwaway local ZooKeeper and shows Keeper working on it.
sandbox: sandbox-deps
	ZOOKEEPER_VERSION=$(if $(ZOOKEEPER_VERSION),$(ZOOKEEPER_VERSION),$(ZK_MAIN)) $(GO) run ./cmd/keeper sandbox

# bench runs against ZK_MAIN (or ZOOKEEPER_VERSION) and records the release
# in bench/RESULTS.md. It needs deps, not only sandbox-deps: measurements 10
# and 11 drive Kazoo and Curator. SCALE=full (the default) takes the scale
# curves to 1 000 000 nodes and watches; SCALE=default stops at 100 000.
SCALE ?= full
bench: deps
	cd bench && ZOOKEEPER_VERSION=$(if $(ZOOKEEPER_VERSION),$(ZOOKEEPER_VERSION),$(ZK_MAIN)) $(GO) run . -scale $(SCALE) $(if $(PROFILE),-cpuprofile cpu.pprof,)

clean:
	$(GO) clean -testcache
