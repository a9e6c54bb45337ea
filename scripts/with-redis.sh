#!/usr/bin/env bash
# Runs a command with a Redis at REDIS_URL (default redis://127.0.0.1:6379). If none answers, starts
# a redis-server from the PATH on that port with its data in .redis-data/, and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

if node scripts/redis-ping.mjs; then
  exec "$@"
fi

if ! command -v redis-server >/dev/null 2>&1; then
  cat >&2 <<MSG
No Redis answers at $REDIS_URL and there is no redis-server on the PATH. Get one:
  Debian/Ubuntu:  sudo apt-get install redis-server
  macOS:          brew install redis
  Docker:         docker compose up -d redis
or point REDIS_URL at a Redis you have.
MSG
  exit 1
fi

port=$(node -e "console.log(new URL(process.env.REDIS_URL).port || 6379)")
mkdir -p .redis-data
echo "No Redis answered at $REDIS_URL: starting redis-server on port $port (data in .redis-data/)" >&2
redis-server --port "$port" --bind 127.0.0.1 --dir "$PWD/.redis-data" --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --daemonize yes --pidfile "$PWD/.redis-data/redis-$port.pid" --logfile "$PWD/.redis-data/redis-$port.log"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$PWD/.redis-data/redis-$port.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do node scripts/redis-ping.mjs && break; sleep 0.1; done
"$@"
