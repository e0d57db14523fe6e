# Sourced by the user-facing scripts: make sure pnpm, the dependencies and a current build exist,
# so a command works from a fresh clone. Quiet and fast when all is already there.
ensure_workspace() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if ! command -v pnpm >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js >= 20 first" >&2; return 1; }
    echo "installing pnpm 10 (one time)…" >&2
    npm install -g --silent pnpm@10 >/dev/null
  fi
  if [[ ! -d "$root/node_modules/.pnpm" || "$root/pnpm-lock.yaml" -nt "$root/node_modules/.modules.yaml" ]]; then
    echo "installing dependencies (one time)…" >&2
    (cd "$root" && pnpm install --frozen-lockfile >&2)
  fi
  # tsc -b is incremental: a no-op when nothing changed. The dashboard's assets are built by Vite
  # (about two seconds), only when missing or older than one of its sources.
  (cd "$root" && pnpm exec tsc -b >&2)
  if [[ ! -f "$root/dashboard/dist/index.html" ]] ||
    [[ -n "$(find "$root/dashboard/src" "$root/dashboard/index.html" "$root/docker-compose.agent.yml" -newer "$root/dashboard/dist/index.html" -print -quit)" ]]; then
    (cd "$root" && pnpm --filter @tunnelfleet/dashboard build >&2)
  fi
}
