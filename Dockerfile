# syntax=docker/dockerfile:1
#
# The uptimeping daemon in a container:
#
#   docker build -t uptimeping .
#   docker run -d -p 127.0.0.1:8080:8080 -v uptimeping:/var/lib/uptimeping uptimeping
#
# Inside the container the daemon listens on all interfaces (0.0.0.0:8080), so that
# a published port reaches it; outside, `-p` decides who can. Its data (SQLite and
# admin.key, the first admin API key) lives in the volume /var/lib/uptimeping.
#
# Releases build this same file around the binary GoReleaser made, with
# `--build-arg BINARY=prebuilt` (see dockers_v2 in .goreleaser.yaml): the `build`
# stage is then never run.

ARG RUST_VERSION=1.95
# Where the binary comes from: `build` compiles it here, `prebuilt` takes
# <platform>/uptimeping from the build context.
ARG BINARY=build

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin uptimeping \
    && install -D -m 0755 target/release/uptimeping /out/uptimeping

FROM scratch AS prebuilt
ARG TARGETPLATFORM
COPY ${TARGETPLATFORM}/uptimeping /out/uptimeping

FROM ${BINARY} AS binary

FROM debian:bookworm-slim
# CA certificates for HTTPS checks; a user of its own, never root. Versions are
# not pinned: bookworm's security updates should land on every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 uptimeping \
    && useradd --system --uid 10001 --gid uptimeping --no-create-home \
        --home-dir /var/lib/uptimeping --shell /usr/sbin/nologin uptimeping \
    && install -d -o uptimeping -g uptimeping -m 0700 /var/lib/uptimeping
COPY --from=binary /out/uptimeping /usr/bin/uptimeping
COPY packaging/healthcheck.yaml /etc/uptimeping/healthcheck.yaml
ENV UPTIMEPING_LISTEN=0.0.0.0:8080 \
    UPTIMEPING_DATA_DIR=/var/lib/uptimeping
USER 10001:10001
WORKDIR /var/lib/uptimeping
VOLUME /var/lib/uptimeping
EXPOSE 8080
# `uptimeping test` exits 2 when the check is down; Docker wants 1 for unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/bin/sh", "-c", "uptimeping test -f /etc/uptimeping/healthcheck.yaml > /dev/null || exit 1"]
ENTRYPOINT ["uptimeping"]
CMD ["daemon"]
