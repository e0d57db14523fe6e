#!/usr/bin/env bash
# Stages one runnable package (master or agent) with its production dependencies only:
#   bash deploy/build-app.sh master|agent OUT_DIR
# Needs the workspace installed and built (pnpm install, tsc -b). Used by the images' build
# stage and, on machines without a registry, on the host for the images' "prebuilt" target.
set -euo pipefail

pkg="${1:-}"
out="${2:-}"
if [[ "$pkg" != master && "$pkg" != agent ]] || [[ -z "$out" ]]; then
  echo "usage: bash deploy/build-app.sh master|agent OUT_DIR" >&2
  exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -f "$pkg/dist/main.js" ]] || {
  echo "build-app: $pkg/dist/main.js missing: run pnpm install && pnpm exec tsc -b $pkg first" >&2
  exit 1
}

rm -rf "$out"
# --legacy: a plain copy of the production dependency tree, no injected-workspace setting needed.
pnpm --filter "@tunnelfleet/$pkg" deploy --prod --legacy "$out" >&2

# What only the compiler, the tests or node-gyp use: sources, type declarations, source maps,
# test files, and better-sqlite3's build intermediates (the .node binding is all it loads).
rm -rf "$out/src" "$out/tsconfig.json"
find "$out/dist" \( -name '*.test.*' -o -name '*test-support*' -o -name '*-test-*' -o -name '*.map' \
  -o -name '*.d.ts' -o -name '.tsbuildinfo' \) -prune -exec rm -rf {} +
find "$out/node_modules" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
  -o -name '*.md' -o -name '*.tsbuildinfo' \) -delete
find "$out/node_modules" -type d -path '*/@tunnelfleet/*/src' -prune -exec rm -rf {} +
for sqlite in "$out"/node_modules/.pnpm/better-sqlite3@*/node_modules/better-sqlite3; do
  [[ -d "$sqlite" ]] || continue
  find "$sqlite/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$sqlite/build/Release" -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
  rm -rf "$sqlite/deps" "$sqlite/src"
done
du -sh "$out" >&2
