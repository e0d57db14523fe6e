#!/usr/bin/env bash
# Builds the master and agent images, tunnelfleet/master:TAG and tunnelfleet/agent:TAG.
#   bash deploy/build-images.sh [--local] [--tag TAG]
# Default: the official Node base images and the app compiled inside Docker (needs a registry).
# --local: no registry needed. Local base images made from this machine's binaries
#          (deploy/build-local-base.sh) and the app built on this machine, copied into the
#          Dockerfiles' "prebuilt" target. The final images have the same layout either way.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

local_build=false
tag=latest
while (($#)); do
  case "$1" in
    --local) local_build=true ;;
    --tag)
      tag="${2:?--tag needs a value}"
      shift
      ;;
    *)
      echo "usage: bash deploy/build-images.sh [--local] [--tag TAG]" >&2
      exit 2
      ;;
  esac
  shift
done

if ! $local_build; then
  for pkg in master agent; do
    docker build -f "deploy/$pkg.Dockerfile" -t "tunnelfleet/$pkg:$tag" .
  done
  exit 0
fi

bash deploy/build-local-base.sh
# shellcheck source=../scripts/lib/ensure-workspace.sh
source scripts/lib/ensure-workspace.sh
ensure_workspace
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
for pkg in master agent; do
  bash deploy/build-app.sh "$pkg" "$stage/$pkg"
  # --network none: the prebuilt target needs no network, and must not depend on the default bridge.
  docker build -q --network none -f "deploy/$pkg.Dockerfile" --target prebuilt \
    --build-arg NODE_IMAGE=tunnelfleet-local/node:20 \
    -t "tunnelfleet/$pkg:$tag" "$stage/$pkg" >/dev/null
  echo "built tunnelfleet/$pkg:$tag" >&2
done
