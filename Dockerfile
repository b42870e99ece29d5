# syntax=docker/dockerfile:1.12
#
# cognito-authz image. Targets:
#   cognito-authz (default, last stage): the service alone, distroless static, non-root, no shell.
#   testenv: the demo's cognito-local, web app, outbox and backend (docker-compose.yml); never for production.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t cognito-authz:dev .
#   docker build --target testenv -t cognito-authz-testenv:dev .
#
# Base images are pinned by version. To pin by digest too, append @sha256:<digest> to each FROM
# (docker buildx imagetools inspect <image> prints it) and let a bot such as Renovate bump it.

# The builder runs on the build machine's platform and cross-compiles, so multi-arch builds
# (--platform linux/amd64,linux/arm64) need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first: the download layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# Static (no cgo, so no libc to ship), reproducible paths, version stamped for `cognito-authz version`.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -tags vtprotobuf -trimpath -buildvcs=false -ldflags="-s -w -X main.version=${VERSION}" -o /out/cognito-authz ./cmd/cognito-authz

# The demo binaries build in their own stage so the default target never compiles them. testenv
# is a Go module of its own (testenv/go.mod, the product's module replaced by the tree above it).
FROM build AS build-testenv
# Build arguments do not carry over from the parent stage.
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd testenv && CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/testenv ./cmd/testenv

# Demo only (docker-compose.yml): `testenv demo` runs cognito-local, the Cognito emulator, under
# Node.js, with the web app, outbox and demo backend beside it; `testenv token` is the compose
# stack's token tool. The emulator is installed from npm here, at build time, at the version
# testenv pins; it runs as the image's unprivileged user node.
FROM node:20.18.0-bookworm-slim AS testenv
COPY --from=build-testenv /out/testenv /usr/local/bin/testenv
USER 1000:1000
ENV XDG_CACHE_HOME=/home/node/.cache
RUN ["testenv", "demo", "--prepare"]
ENTRYPOINT ["testenv"]

FROM gcr.io/distroless/static-debian12:nonroot AS cognito-authz
ARG VERSION=dev
LABEL org.opencontainers.image.title="cognito-authz" \
      org.opencontainers.image.description="Envoy ext_authz (gRPC v3) service verifying Amazon Cognito tokens" \
      org.opencontainers.image.source="https://github.com/cognito-authz/cognito-authz" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/cognito-authz /cognito-authz
# Numeric, so Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 65532:65532
# 9001: gRPC ext_authz and grpc.health.v1; 9090: admin HTTP (/metrics, /healthz, /readyz).
EXPOSE 9001 9090
# No shell in this image: the binary probes its own grpc.health.v1 (SERVING once keys are loaded).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["/cognito-authz", "healthcheck", "--addr", "127.0.0.1:9001"]
ENTRYPOINT ["/cognito-authz"]
CMD ["serve"]
