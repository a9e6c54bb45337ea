#!/usr/bin/env bash
# One command from a fresh clone: install, build, then run the seed's example end to end
# (Redis → service → Kable emulator) and show the Kable event that arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then
  echo "==> npm ci (first run)"
  npm ci --no-audit --no-fund
fi
echo "==> npm run build (and the Kable emulator: build:tools)"
npm run build --silent && npm run build:tools --silent
exec bash scripts/with-redis.sh node scripts/demo.mjs
