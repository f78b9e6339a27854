# Keeper's build, test and demo targets. Every target that needs a ZooKeeper
# server installs one first (scripts/install-zookeeper: Debian's package).

GO        ?= go
PKGS      := ./...
# Every module of the tree (go.work ties them together): the library, the
# CLI (its own module, so that the library's go.mod requires nothing) and bench.
MODULES   := . cmd/keeper bench
FUZZTIME  ?= 60s
CIFUZZ    ?= 5s
PROFILE   ?=

.PHONY: all deps test check vet fmt-check race fuzz fuzz-short sandbox bench clean

all: check

deps:
	@bash scripts/install-zookeeper

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "vet $$m"; (cd $$m && $(GO) vet $(PKGS)) || exit 1; done

race: deps
	@for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 -timeout 20m $(PKGS)) || exit 1; done

# fuzz-short runs each fuzz target for a few seconds (CI); fuzz runs each for FUZZTIME.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(CIFUZZ)

fuzz:
	$(GO) test ./internal/wire -run='^$$' -fuzz='^FuzzDecodeRequest$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/wire -run='^$$' -fuzz='^FuzzDecodeResponse$$' -fuzztime=$(FUZZTIME)
	$(GO) test . -run='^$$' -fuzz='^FuzzParse4lw$$' -fuzztime=$(FUZZTIME)

# test is what CI runs: formatting, vet, the whole suite under the race
# detector against real servers, and a short fuzz run of every target.
test: deps fmt-check vet race fuzz-short

check: test

# sandbox starts a throwaway local ZooKeeper and shows Keeper working on it.
sandbox: deps
	$(GO) run ./cmd/keeper sandbox

bench: deps
	cd bench && $(GO) run . $(if $(PROFILE),-cpuprofile cpu.pprof,)

clean:
	$(GO) clean -testcache
