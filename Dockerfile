# flowlab in one image: `flowlab serve` by default; the same image runs
# `flowlab capture` as the sensor (see docker-compose.yml and docs/deploy.md).
#
#   docker build -t flowlab --build-arg VERSION=$(git describe --always) .

# Build: cgo is needed for DuckDB (the bindings link a static libduckdb and
# the C++ runtime), so the Debian-based Go image with gcc and g++.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a change in the sources does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# flowlab-kernel is the kernel-only build (no server, ingest or broker): the
# server runs it for every app's kernel when it sits beside flowlab, which
# halves a kernel's resident memory (BENCHMARKS.md).
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/flowlab ./cmd/flowlab \
 && CGO_ENABLED=1 go build -trimpath -tags kernelonly -ldflags "-s -w -X main.version=${VERSION}" -o /out/flowlab-kernel ./cmd/flowlab \
 && /out/flowlab help >/dev/null && /out/flowlab-kernel help >/dev/null

# Runtime: the binary needs glibc and libstdc++ (DuckDB); ca-certificates
# for Kafka over TLS, tzdata for schedules in IANA time zones.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 tzdata \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so volumes and bind mounts can be prepared for it.
# /data/lake is created here owned by flowlab: a new named volume mounted
# there starts with this owner, and the sensor (root) writes into it.
RUN groupadd --system --gid 10001 flowlab \
 && useradd --system --uid 10001 --gid flowlab --home-dir /data --shell /usr/sbin/nologin flowlab \
 && mkdir -p /data/lake \
 && chown -R flowlab:flowlab /data
COPY --from=build /out/flowlab /out/flowlab-kernel /usr/local/bin/
USER flowlab
WORKDIR /data
ENV FLOWLAB_LAKE=/data/lake
EXPOSE 8888
VOLUME /data
ENTRYPOINT ["flowlab"]
# The token comes from FLOWLAB_TOKEN (else a random one is printed).
CMD ["serve", "--addr", "0.0.0.0:8888", "--data-dir", "/data"]
