#!/usr/bin/env bash
# Builds the local test images (busybox base, web, stand-in cloudflared, then the real cloudflared
# from ../shared/bin beside the repository) through the harness, so they exist before the tests
# run. Idempotent: unchanged images are not rebuilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Type errors anywhere in test/ are the typecheck phase's business: tsc -b still emits the
# harness JavaScript, which is all this step runs.
pnpm exec tsc -b test >/dev/null 2>&1 || echo "build-test-images: test/ has type errors (run pnpm typecheck); using the emitted JS"
node test/dist/harness/ensure-test-images-cli.js
