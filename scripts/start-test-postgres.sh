#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the warehouse tests (tests/test_warehouse_engines.py)
# and prints the lines to eval:
#   eval "$(bash scripts/start-test-postgres.sh)"   # exports KAM_TEST_POSTGRES_URL, KAM_TEST_POSTGRES_DIR
#   bash scripts/start-test-postgres.sh stop "$KAM_TEST_POSTGRES_DIR"
# Uses Debian's postgresql package (make system-deps installs it). PostgreSQL refuses to run
# as root: as root the cluster is initialised and run by the 'postgres' user the package
# creates (or a dedicated 'kamtest' user), in a temporary folder that user owns. The cluster
# listens on 127.0.0.1 on a free port with a random password; nothing is left after 'stop'.
set -euo pipefail

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir="$d"; done
if [ -z "$bindir" ]; then
  initdb_path="$(command -v initdb || true)"
  [ -n "$initdb_path" ] || { echo "echo 'PostgreSQL is not installed (make system-deps)' >&2; false"; exit 1; }
  bindir="$(dirname "$initdb_path")"
fi

as_owner() {  # run a command as the cluster's owner (root cannot run postgres)
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

owner="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  if id postgres >/dev/null 2>&1; then owner=postgres
  else id kamtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin kamtest; owner=kamtest
  fi
fi

if [ "${1:-}" = "stop" ]; then
  dir="${2:?usage: start-test-postgres.sh stop DIR}"
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

dir="$(mktemp -d /tmp/kam-pg.XXXXXX)"
chmod 700 "$dir"
password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf '%s\n' "$password" > "$dir/pwfile"
[ "$owner" = "$(id -un)" ] || chown -R "$owner" "$dir"
as_owner "$bindir/initdb" -D "$dir/data" -U kam --pwfile="$dir/pwfile" -A scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
rm -f "$dir/pwfile"
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
echo "export KAM_TEST_POSTGRES_URL='postgresql://kam:$password@127.0.0.1:$port/postgres'"
echo "export KAM_TEST_POSTGRES_DIR='$dir'"
