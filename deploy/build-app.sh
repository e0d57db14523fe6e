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
# The master serves the dashboard's built assets (a dependency of the master, shipped as its dist/).
if [[ "$pkg" == master && ! -f dashboard/dist/index.html ]]; then
  echo "build-app: dashboard/dist/index.html missing: run pnpm build (or pnpm --filter @tunnelfleet/dashboard build) first" >&2
  exit 1
fi

rm -rf "$out"
# --legacy: a plain copy of the production dependency tree, no injected-workspace setting needed.
# Each workspace package ships only dist/ ("files" in its package.json).
pnpm --filter "@tunnelfleet/$pkg" deploy --prod --legacy "$out" >&2

# dist/ is then emitted afresh from each workspace package's production tsconfig (its src/ without
# the specs; fixtures and benchmarks live outside src/): exactly the product's modules, never a
# stale file a developer's dist/ still holds from code since moved or deleted. The workspace build
# has already type-checked them; source maps and declarations are for the compiler only.
emit_product() { # <workspace package dir> <dist dir to replace>
  rm -rf "$2"
  pnpm exec tsc -p "$1/tsconfig.json" --outDir "$2" --noCheck --composite false --incremental false \
    --tsBuildInfoFile null --declaration false --declarationMap false --sourceMap false >&2
}
emit_product "$pkg" "$out/dist"
for dependency in "$out"/node_modules/.pnpm/@tunnelfleet+*/node_modules/@tunnelfleet/*; do
  [[ -d "$dependency" ]] || continue
  # The dashboard's dist/ is Vite's output (static assets), not a tsc product: kept as deployed.
  [[ "$(basename "$dependency")" == dashboard ]] && continue
  emit_product "$(basename "$dependency")" "$dependency/dist"
done

# Of the dependencies, what node never loads: TypeScript sources, source maps, docs, and
# better-sqlite3's build intermediates (the .node binding is all it loads).
find "$out/node_modules" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
  -o -name '*.md' -o -name '*.tsbuildinfo' \) -delete
for sqlite in "$out"/node_modules/.pnpm/better-sqlite3@*/node_modules/better-sqlite3; do
  [[ -d "$sqlite" ]] || continue
  find "$sqlite/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$sqlite/build/Release" -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
  rm -rf "$sqlite/deps" "$sqlite/src"
done
du -sh "$out" >&2
