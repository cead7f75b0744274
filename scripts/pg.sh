#!/usr/bin/env bash
# A throwaway PostgreSQL cluster from Debian's `postgresql` package, for the
# tests and the benchmark:
#   scripts/pg.sh start DIR [postgres -c options...]   prints the URL to use
#   scripts/pg.sh stop DIR                              stops it (DIR stays)
# The cluster lives in DIR/data, listens on a free loopback port, trusts
# local connections (user `tessera`, no password: it is a test cluster) and
# sorts text bytewise (no locale), as SQLite does. Run as root, the server
# runs as the `postgres` user, which PostgreSQL requires.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg.sh: PostgreSQL's server is missing (Debian: apt-get install postgresql)" >&2
    exit 1
fi
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    as_owner=(runuser -u postgres --)
fi

command=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: scripts/pg.sh start|stop DIR [options]" >&2; exit 2; }
shift 2

case "$command" in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U tessera -A trust --no-locale -E UTF8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400"
    for o in "$@"; do options="$options $o"; done
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "$options" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://tessera@127.0.0.1:$port/postgres"
    ;;
stop)
    [ -d "$dir/data" ] || exit 0
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: scripts/pg.sh start|stop DIR [options]" >&2
    exit 2
    ;;
esac
