# Tunnelfleet master: API, web dashboard, reconciler and the `tunnelfleet` CLI.
#
# Online (official bases, app built in Docker), from the repository root:
#   docker build -f deploy/master.Dockerfile -t tunnelfleet/master .
# Offline (no registry: local bases from this machine, app built on the host):
#   bash deploy/build-images.sh --local
# NODE_IMAGE and BUILD_IMAGE must carry the same Node major: better-sqlite3's native binding is
# compiled in the build stage for that Node ABI.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG BUILD_IMAGE=node:24-bookworm

# ---- runtime: everything but the app; shared by the two ways of putting the app in -----------
FROM ${NODE_IMAGE} AS runtime
# tini reaps zombies and forwards signals, so SIGTERM reaches node and the master drains.
# UID/GID 65532 owns only the data directory; the app itself stays root-owned and read-only.
RUN if ! command -v tini >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi \
    && echo 'tunnelfleet:x:65532:65532:tunnelfleet:/app/data:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'tunnelfleet:x:65532:' >>/etc/group \
    && mkdir -p /app/data && chown 65532:65532 /app/data && chmod 0700 /app/data \
    && printf '#!/bin/sh\nexec node /app/dist/cli/tunnelfleet.js "$@"\n' >/usr/local/bin/tunnelfleet \
    && chmod 0755 /usr/local/bin/tunnelfleet
WORKDIR /app
# The heap limit: V8 otherwise grows the heap with the allocation rate, to three times what is
# live (10,000 hosts: up to 420 MB live in a heap of 1,140 MB, RSS 1.24 GB; with this limit RSS
# 627 MB, and 640 MB collected so often that latency suffered; bench/RESULTS.md, runs E to G).
# Raise it (NODE_OPTIONS in the compose file's environment) for a larger fleet.
# The young generation at 64 MB a semi-space (16 by default): a request's objects then die young
# instead of being promoted, and the old generation fills more slowly (10,000 hosts: heartbeat p99
# 500 ms to 325 ms, RSS peak 691 to 858 MB; bench/RESULTS.md, runs M and N).
# The benchmarks and system tests read it from this line.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=768 --max-semi-space-size=64" \
    PORT=8080 \
    TUNNELFLEET_DATA_DIR=/app/data
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/main.js"]

# ---- prebuilt: the app staged on the host by deploy/build-app.sh (build context = that dir) ----
# Comes before the build stage so that `--target prebuilt` never needs the online build image.
FROM runtime AS prebuilt
COPY . /app/

# ---- build: install, compile (node-gyp for better-sqlite3), stage production deps only ---------
FROM ${BUILD_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/* \
    && npm install -g pnpm@10
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY common/package.json common/
COPY test/package.json test/
COPY master/package.json master/
COPY agent/package.json agent/
COPY dashboard/package.json dashboard/
RUN pnpm install --frozen-lockfile
COPY common/tsconfig.json common/
COPY common/src common/src
COPY master/tsconfig.json master/
COPY master/src master/src
COPY dashboard/tsconfig.json dashboard/vite.config.ts dashboard/index.html dashboard/
COPY dashboard/src dashboard/src
# The enrol page shows this file as it is: it is built into the dashboard.
COPY docker-compose.agent.yml ./
COPY deploy/build-app.sh deploy/
RUN pnpm exec tsc -b master && pnpm --filter @tunnelfleet/dashboard build && bash deploy/build-app.sh master /out

# ---- release (default target): the runtime with the app from the build stage -----------------
FROM runtime AS release
COPY --from=build /out/ /app/
