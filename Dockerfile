# QuickPay: one image that holds all six executables (qp-bank, qp-appserver, qp-nsp,
# qp-merchant, qp-customer, quickpay). docker-compose.yml runs one container per actor from it;
# each container's command says which actor it is. docs/OPERATIONS.md has the details.
#
#   docker build -t quickpay:dev .        (or: docker-compose build)
#
# The build fetches the Swift packages that Package.swift names, so it needs network access to
# them. Keys are never part of the image: containers mount them at run time.

# ---- Build stage: the Swift toolchain and the headers of the C libraries we link ----
FROM swift:6.3-bookworm AS build

# libzmq3-dev and pkg-config: Sources/CZeroMQ finds libzmq through pkg-config.
# libsqlite3-dev: GRDB links the system SQLite.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libzmq3-dev pkg-config libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Only what the build reads: the manifest, Package.resolved when there is one (the [d] pattern
# makes it optional), the sources, and the test folders (the manifest declares test targets, and
# SwiftPM wants their folders to exist). Nothing else of the work tree (.build/, runs/, data/,
# deploy/keys/) enters the image.
COPY Package.swift Package.resolve[d] ./
COPY Sources/ Sources/
COPY Tests/ Tests/

# A release build of each executable (swift build takes one --product at a time), then the
# binaries are collected in /out for the runtime stage.
RUN for product in qp-bank qp-appserver qp-nsp qp-merchant qp-customer quickpay; do \
      swift build -c release --product "$product" || exit 1; \
    done \
 && bin="$(swift build -c release --show-bin-path)" \
 && mkdir -p /out \
 && for product in qp-bank qp-appserver qp-nsp qp-merchant qp-customer quickpay; do \
      cp "$bin/$product" /out/ || exit 1; \
    done

# ---- Runtime stage: the Swift runtime libraries, libzmq and SQLite, no compiler ----
FROM swift:6.3-bookworm-slim

# The shared libraries the executables load: libzmq5 (ZeroMQ) and libsqlite3-0 (GRDB).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libzmq5 libsqlite3-0 \
 && rm -rf /var/lib/apt/lists/*

# The six executables, on PATH.
COPY --from=build /out/ /usr/local/bin/

# The bank's demo seed (config/bank-seed.yaml) and the scenario files the runner can replay.
COPY config/ /opt/quickpay/config/
COPY scenarios/ /opt/quickpay/scenarios/
COPY multihost/scenarios/ /opt/quickpay/multihost/scenarios/

# A fixed non-root user (uid and gid 10001). The key files are mode 0600 in 0700 folders, so on
# the Docker host they must belong to uid 10001 (docs/OPERATIONS.md: chown after the key
# ceremony). /data (an actor's SQLite file) and /runs (the runner's reports) are where the
# compose file mounts named volumes; a new volume takes this ownership from the image.
RUN groupadd --system --gid 10001 quickpay \
 && useradd --system --uid 10001 --gid quickpay --home-dir /opt/quickpay --no-create-home --shell /usr/sbin/nologin quickpay \
 && mkdir -p /data /runs \
 && chown quickpay:quickpay /data /runs \
 && chmod 0700 /data

USER quickpay
WORKDIR /opt/quickpay

# Actors stop cleanly on SIGTERM (docker stop). The compose file gives each container its command.
STOPSIGNAL SIGTERM
CMD ["quickpay", "--help"]
