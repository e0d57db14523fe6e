#!/usr/bin/env bash
# Makes, from this machine's own binaries, the local stand-ins of the official images the
# Dockerfiles and compose files name, for machines that reach no registry:
#
#   tunnelfleet-local/node:20                 node (this machine's), tini, busybox sh
#                                             → NODE_IMAGE of deploy/{master,agent}.Dockerfile
#   tunnelfleet-local/redis:7                 Debian's redis-server + redis-cli → REDIS_IMAGE
#   tunnelfleet-local/docker-socket-proxy:1   Debian's haproxy with deploy/socket-proxy/haproxy.cfg,
#                                             same env flags as tecnativa/docker-socket-proxy
#                                             → DOCKER_SOCKET_PROXY_IMAGE
#
# Each is a `docker import` of a tiny rootfs: the binaries, the shared libraries `ldd` lists for
# them, /etc/passwd, /tmp. Idempotent: an image is rebuilt only when its inputs changed.
# Needs: docker, nodejs, redis-server, haproxy, busybox-static, tini (all Debian packages).
set -euo pipefail

readonly NODE_IMAGE=tunnelfleet-local/node:20
readonly REDIS_IMAGE=tunnelfleet-local/redis:7
readonly PROXY_IMAGE=tunnelfleet-local/docker-socket-proxy:1
readonly HASH_LABEL=org.tunnelfleet.local-base.hash
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly DEPLOY_DIR

say() { printf 'build-local-base: %s\n' "$*" >&2; }
die() {
  printf 'build-local-base: ERROR: %s\n' "$*" >&2
  exit 1
}

need() {
  local path
  path="$(command -v "$1" 2>/dev/null)" || die "$1 not found (Debian package: $2); run: bash scripts/provision"
  readlink -f "$path"
}

# Copies binaries and every shared library they load, at the same paths, into a rootfs.
copy_with_libs() {
  local rootfs="$1" bin lib
  shift
  for bin in "$@"; do
    install -D -m 0755 "$bin" "$rootfs$bin"
    while read -r lib; do
      [[ -n "$lib" ]] || continue
      [[ -e "$rootfs$lib" ]] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
    done < <(ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' || true)
  done
}

base_rootfs() {
  local rootfs="$1" busybox
  busybox="$(need busybox busybox-static)"
  mkdir -p "$rootfs"/{bin,etc,tmp,usr/bin,usr/local/bin,root}
  chmod 1777 "$rootfs/tmp"
  install -m 0755 "$busybox" "$rootfs/bin/busybox"
  local applet
  for applet in $("$busybox" --list); do
    [[ -e "$rootfs/bin/$applet" ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# current IMAGE HASH: true (and says so) when IMAGE was built from inputs of this hash.
current() {
  [[ "$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true)" == "$2" ]] ||
    return 1
  say "$1 is current"
}

# import IMAGE HASH ROOTFS CHANGE...: `docker import` with Dockerfile-style changes.
import_rootfs() {
  local image="$1" hash="$2" rootfs="$3"
  shift 3
  local changes=(--change "LABEL $HASH_LABEL=$hash")
  local change
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$rootfs" -c . | docker import "${changes[@]}" - "$image" >/dev/null
  say "built $image"
}

build_node() {
  local node tini hash rootfs
  node="$(need node nodejs)"
  tini="$(need tini-static tini)"
  hash="$(hash_of "$node" "$tini" "${BASH_SOURCE[0]}")"
  current "$NODE_IMAGE" "$hash" && return
  rootfs="$work/node"
  base_rootfs "$rootfs"
  copy_with_libs "$rootfs" "$node"
  # The official node images keep node in /usr/local/bin; tini where Debian's package puts it.
  [[ "$node" == /usr/local/bin/node ]] || mv "$rootfs$node" "$rootfs/usr/local/bin/node"
  install -m 0755 "$tini" "$rootfs/usr/bin/tini"
  import_rootfs "$NODE_IMAGE" "$hash" "$rootfs" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'CMD ["node"]'
}

build_redis() {
  local server cli hash rootfs
  server="$(need redis-server redis-server)"
  cli="$(need redis-cli redis-tools)"
  hash="$(hash_of "$server" "$cli" "${BASH_SOURCE[0]}")"
  current "$REDIS_IMAGE" "$hash" && return
  rootfs="$work/redis"
  base_rootfs "$rootfs"
  copy_with_libs "$rootfs" "$server" "$cli"
  ln -s "$server" "$rootfs/usr/local/bin/redis-server"
  ln -s "$cli" "$rootfs/usr/local/bin/redis-cli"
  # Same user and data directory as the official image.
  printf 'redis:x:999:999:redis:/data:/bin/false\n' >>"$rootfs/etc/passwd"
  printf 'redis:x:999:\n' >>"$rootfs/etc/group"
  mkdir -p "$rootfs/data" && chown 999:999 "$rootfs/data"
  import_rootfs "$REDIS_IMAGE" "$hash" "$rootfs" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'USER redis' 'WORKDIR /data' 'VOLUME /data' \
    'EXPOSE 6379' 'CMD ["redis-server"]'
}

build_proxy() {
  local haproxy config hash rootfs
  haproxy="$(need haproxy haproxy)"
  config="$DEPLOY_DIR/socket-proxy/haproxy.cfg"
  hash="$(hash_of "$haproxy" "$config" "${BASH_SOURCE[0]}")"
  current "$PROXY_IMAGE" "$hash" && return
  rootfs="$work/proxy"
  base_rootfs "$rootfs"
  copy_with_libs "$rootfs" "$haproxy"
  install -D -m 0644 "$config" "$rootfs/usr/local/etc/haproxy/haproxy.cfg"
  mkdir -p "$rootfs/run"
  # The flags default to tecnativa/docker-socket-proxy's: only /_ping, /version and /events open.
  import_rootfs "$PROXY_IMAGE" "$hash" "$rootfs" \
    'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/bin' \
    'ENV SOCKET_PATH=/var/run/docker.sock LOG_LEVEL=info EVENTS=1 PING=1 VERSION=1' \
    'EXPOSE 2375' \
    "CMD [\"$haproxy\", \"-db\", \"-f\", \"/usr/local/etc/haproxy/haproxy.cfg\"]"
}

main() {
  docker info >/dev/null 2>&1 || die "the Docker engine does not answer; run: bash scripts/provision"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  local which
  for which in "${@:-node redis proxy}"; do
    for which in $which; do
      case "$which" in
        node) build_node ;;
        redis) build_redis ;;
        proxy) build_proxy ;;
        *) die "unknown image \"$which\" (node, redis, proxy)" ;;
      esac
    done
  done
}

main "$@"
