# Tunnelfleet agent: Docker watcher, reporter, command loop and cloudflared supervisor.
#
# Online (official bases, app built in Docker), from the repository root:
#   docker build -f deploy/agent.Dockerfile -t tunnelfleet/agent .
# Offline (no registry: local bases from this machine, app built on the host):
#   bash deploy/build-images.sh --local
# The agent talks to Docker through DOCKER_HOST (a socket proxy in docker-compose.agent.yml):
# the image holds no Docker client and the container needs no socket of its own.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG BUILD_IMAGE=node:24-bookworm

# ---- runtime: everything but the app; shared by the two ways of putting the app in -----------
FROM ${NODE_IMAGE} AS runtime
# tini reaps zombies and forwards signals: SIGTERM stops the agent and leaves cloudflared serving.
# UID/GID 65532 owns only the data directory (agent_id, tunnel_state.json, mode 0600).
RUN if ! command -v tini >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi \
    && echo 'tunnelfleet:x:65532:65532:tunnelfleet:/app/data:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'tunnelfleet:x:65532:' >>/etc/group \
    && mkdir -p /app/data && chown 65532:65532 /app/data && chmod 0700 /app/data
WORKDIR /app
ENV NODE_ENV=production \
    TUNNELFLEET_DATA_DIR=/app/data \
    TUNNELFLEET_HEALTH_PORT=8081
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TUNNELFLEET_HEALTH_PORT||8081)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/main.js"]

# ---- prebuilt: the app staged on the host by deploy/build-app.sh (build context = that dir) ----
# Comes before the build stage so that `--target prebuilt` never needs the online build image.
FROM runtime AS prebuilt
COPY . /app/

# ---- build: install, compile, stage production deps only (no native module to compile) -------
FROM ${BUILD_IMAGE} AS build
RUN npm install -g pnpm@10
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY common/package.json common/
COPY test/package.json test/
COPY master/package.json master/
COPY agent/package.json agent/
COPY dashboard/package.json dashboard/
# The root (TypeScript) and the agent with its workspace dependencies: master's native module is not needed.
RUN pnpm install --frozen-lockfile --filter tunnelfleet --filter '@tunnelfleet/agent...'
COPY common/tsconfig.json common/
COPY common/src common/src
COPY agent/tsconfig.json agent/
COPY agent/src agent/src
COPY deploy/build-app.sh deploy/
RUN pnpm exec tsc -b agent && bash deploy/build-app.sh agent /out

# ---- release (default target): the runtime with the app from the build stage -----------------
FROM runtime AS release
COPY --from=build /out/ /app/
