#!/usr/bin/env bash
# Builds the local test images (busybox base, web, stand-in cloudflared) through the harness,
# so they exist before the tests run. Idempotent: unchanged images are not rebuilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
pnpm exec tsc -b test
node test/dist/harness/ensure-test-images-cli.js
