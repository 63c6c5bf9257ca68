#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (Debian's postgresql package) on 127.0.0.1:PORT (default
# 54329) with password authentication and TLS required (a self-signed certificate made with openssl), and prints its connection string for
# SOFTMAXLAB_TEST_POSTGRES. The cluster lives in a new folder under /tmp; stop it with
# `pg_ctl -D <folder> stop` (the folder is printed on stderr). Usage: scripts/start-test-postgres.sh [PORT]
set -euo pipefail
port=${1:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "error: PostgreSQL's server is not installed (Debian: apt-get install postgresql)" >&2; exit 1; }
data=$(mktemp -d /tmp/softmaxlab-pg.XXXXXX)
password=softmaxlab-test
echo "$password" > "$data.pw"
# initdb and the server refuse to run as root: as root, they run as Debian's postgres user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$data" "$data.pw"; fi
as_owner "$bin/initdb" -D "$data/db" -U postgres -A scram-sha-256 --pwfile="$data.pw" >/dev/null
rm -f "$data.pw"
# TLS with a throwaway self-signed certificate, so the tests can ask for it (sslmode=require).
openssl req -new -x509 -days 2 -nodes -subj /CN=localhost -keyout "$data/db/server.key" -out "$data/db/server.crt" >/dev/null 2>&1
chmod 600 "$data/db/server.key"
if [ "$(id -u)" = 0 ]; then chown postgres "$data/db/server.key" "$data/db/server.crt"; fi
# The server asks for TLS: TCP connections without it are refused.
printf '%s\n' 'local all all scram-sha-256' 'hostssl all all 127.0.0.1/32 scram-sha-256' 'host all all 127.0.0.1/32 reject' > "$data/db/pg_hba.conf"
as_owner "$bin/pg_ctl" -D "$data/db" -l "$data/db/server.log" -w \
    -o "-p $port -k $data/db -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on" start >/dev/null
echo "PostgreSQL test cluster in $data/db on port $port" >&2
echo "postgres://postgres:$password@127.0.0.1:$port/postgres"
