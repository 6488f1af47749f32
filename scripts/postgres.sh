#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests and for `scripts/run --with-postgres` (issue 18), from Debian's
# postgresql package: its own cluster (initdb) in a folder of the checkout, run as the postgres user, listening on
# 127.0.0.1 only, with one database and two least-privilege roles:
#
#   signservice_owner  owns database "signservice" and its schema public: the migrations run as this role
#   signservice        the runtime role: CONNECT, USAGE on public, SELECT/INSERT/UPDATE/DELETE on tables and
#                      USAGE/SELECT on sequences (also on tables the owner creates later); it cannot CREATE anything
#
# Passwords are random (files owner.password and runtime.password, 0600, in the folder); TCP logins use
# scram-sha-256, and the only other way in is the superuser's peer login over the folder's Unix socket.
#
# Usage: scripts/postgres.sh up | down | start | stop | restart | status | env | psql [ARGS] | pgbench [ARGS] | destroy
#   up       initdb when needed, start (a running server is reused), make the roles and the database, write env.sh
#   down     stop the server (pg_ctl stop -m fast); the data stays for the next `up`
#   stop     the same as down (for tests: stop, wait, start again)
#   start    start the existing cluster on the port it had (fails when that port is taken: the URLs must not change)
#   restart  stop, then start the same cluster on the same port
#   status   exit 0 when the server runs
#   env      print the path of env.sh (`source "$(scripts/postgres.sh env)"`)
#   psql     psql as signservice_owner on database signservice (arguments go to psql)
#   pgbench  pgbench as signservice_owner in its own schema "pgbench" (not visible to the runtime role)
#   destroy  stop and delete the cluster and its folder
#
# Environment: SIGNSERVICE_PG, the folder (default .pg in the checkout, ignored by git); SIGNSERVICE_PG_PORT, the
# port to try first (default 55432; the next free one is taken when it is busy, and kept from then on);
# SIGNSERVICE_PG_AUTH, scram-sha-256 (default) or md5 (see AUTH below), read when the cluster starts.
# env.sh exports SIGNSERVICE_TEST_POSTGRES_URL (runtime role), SIGNSERVICE_TEST_POSTGRES_OWNER_URL (owner role),
# SIGNSERVICE_TEST_POSTGRES_PORT, SIGNSERVICE_PG, SIGNSERVICE_TEST_PGBENCH (the pgbench binary) and
# SIGNSERVICE_TEST_POSTGRES_SCRIPT (this script, for tests that stop and start the server).
#
# The folder and the postgres user: when this runs as root the server runs as postgres, which must be able to reach
# the folder. A checkout under /root (0700) or another private home is not reachable, and CI clones wherever it
# likes, so the script asks the postgres user itself (`cd` into the parent folder). When it cannot, the data lives in
# /var/tmp/signservice-pg-<first 16 hex digits of sha256(folder path)>, owned by postgres and mode 0700 (refused
# when it exists with another owner or mode, or is a symlink: /var/tmp is world-writable), and the folder in the
# checkout becomes a symlink to it. Every path the server sees is the resolved one. Note that systemd-tmpfiles may
# clean /var/tmp after 30 days unused; `up` then makes a fresh cluster. Run as another user, the server runs as that
# user, who can reach their own checkout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FOLDER=${SIGNSERVICE_PG:-$ROOT/.pg}
[ "${FOLDER#/}" != "$FOLDER" ] || FOLDER=$PWD/$FOLDER
DEFAULT_PORT=${SIGNSERVICE_PG_PORT:-55432}
# How the two roles log in over TCP. scram-sha-256 (the default, as in production). md5 only for a throwaway cluster
# whose test churns connections in a debug build: postgres-nio's SCRAM login costs about 0.85 s of event-loop CPU
# there (measured: 8 concurrent first requests to a fresh instance answered after 6.8 s in debug, 0.1 s in release).
AUTH=${SIGNSERVICE_PG_AUTH:-scram-sha-256}
case $AUTH in scram-sha-256 | md5) ;; *) echo "postgres: SIGNSERVICE_PG_AUTH must be scram-sha-256 or md5" >&2; exit 2 ;; esac
DATABASE=signservice
OWNER=signservice_owner
RUNTIME=signservice

log() { printf 'postgres: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# Debian's binaries, newest major version first. Not the PATH: a machine may carry other builds (this one has
# /usr/local/bin/initdb), and CI has only Debian's.
PGBIN=""
for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r); do
  if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/psql" ]; then PGBIN=$candidate; break; fi
done

# The user the server runs as, and how to run a command as that user. From / so that a working directory the
# postgres user cannot enter (a checkout under /root) does not make initdb, pg_ctl or psql complain. Descriptor 9
# (this script's lock, below) is closed: the postmaster would otherwise inherit it and hold the lock while it runs.
if [ "$(id -u)" -eq 0 ]; then
  SERVER_USER=postgres
  as_server() { (cd / && exec runuser -u postgres -- "$@" 9<&-); }
else
  SERVER_USER=$(id -un)
  as_server() { (cd / && exec "$@" 9<&-); }
fi

need_packages() {
  [ -n "$PGBIN" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin (run scripts/setup.sh: Debian's postgresql)"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres user (Debian's postgresql package makes it; run scripts/setup.sh)"
    command -v runuser >/dev/null || die "runuser is missing (util-linux)"
  fi
  command -v flock >/dev/null || die "flock is missing (util-linux)"
}

# REAL: the folder as the server sees it (the symlink's target when the data lives in /var/tmp).
REAL=""
resolve_folder() {
  if [ -L "$FOLDER" ]; then
    REAL=$(readlink -f "$FOLDER") || die "$FOLDER is a broken symlink"
  elif [ -d "$FOLDER" ]; then
    REAL=$(cd "$FOLDER" && pwd -P)
  else
    REAL=""
  fi
}

reachable_by_server() { as_server test -x "$1" -a -r "$1"; }

make_folder() {
  resolve_folder
  if [ -L "$FOLDER" ] && [ ! -d "$REAL" ]; then
    # The symlink's target was removed (tmpfiles, a reboot with /var/tmp on tmpfs): start again.
    rm -f "$FOLDER"
    REAL=""
  fi
  if [ -n "$REAL" ]; then
    reachable_by_server "$REAL" || die "$SERVER_USER cannot reach $REAL (remove it, or set SIGNSERVICE_PG)"
    [ "$(stat -c %U "$REAL")" = "$SERVER_USER" ] || die "$REAL belongs to $(stat -c %U "$REAL"), not $SERVER_USER: remove it"
    return 0
  fi
  local parent; parent=$(dirname "$FOLDER")
  mkdir -p "$parent"
  parent=$(cd "$parent" && pwd -P)
  if reachable_by_server "$parent"; then
    mkdir -p -m 700 "$FOLDER"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$FOLDER"
    REAL=$(cd "$FOLDER" && pwd -P)
    return 0
  fi
  local hash; hash=$(printf '%s' "$parent/$(basename "$FOLDER")" | sha256sum | cut -c1-16)
  local outside=/var/tmp/signservice-pg-$hash
  if [ -e "$outside" ] || [ -L "$outside" ]; then
    [ ! -L "$outside" ] && [ -d "$outside" ] && [ "$(stat -c %U:%a "$outside")" = "$SERVER_USER:700" ] ||
      die "$outside exists but is not a folder of $SERVER_USER with mode 700: remove it"
  else
    mkdir -m 700 "$outside"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$outside"
  fi
  ln -sfn "$outside" "$FOLDER"
  REAL=$outside
  log "$SERVER_USER cannot reach $parent: the cluster lives in $outside ($FOLDER links to it)"
}

# One script at a time per folder (scripts/test and scripts/run may both call `up`). The lock is the folder itself.
lock() { exec 9<"$REAL"; flock -w 120 9 || die "another scripts/postgres.sh holds $REAL for 120 s"; }

DATA() { echo "$REAL/data"; }
SOCKET() { echo "$REAL/socket"; }
port_of() { cat "$REAL/port" 2>/dev/null || true; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { [ -n "$REAL" ] && [ -f "$(DATA)/PG_VERSION" ] && as_server "$PGBIN/pg_ctl" -D "$(DATA)" status >/dev/null 2>&1; }

choose_port() {
  local port=${1:-$DEFAULT_PORT} tries=0
  until ! port_busy "$port"; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "no free port among $DEFAULT_PORT and the 99 after it"
    port=$((port + 1))
  done
  echo "$port"
}

# The server's settings, rewritten at every start from the chosen port (included from postgresql.conf).
write_settings() {
  local port=$1
  # The Unix socket path is limited to 107 bytes (sun_path) including ".s.PGSQL.<port>".
  [ "${#REAL}" -lt 80 ] || die "$REAL is too long for the server's Unix socket: set SIGNSERVICE_PG to a shorter folder"
  as_server tee "$(DATA)/signservice.conf" >/dev/null <<CONF
# Written by scripts/postgres.sh at every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$(SOCKET)'
unix_socket_permissions = 0700
max_connections = 100
password_encryption = '$AUTH'
# Durability is tested by killing the service with SIGKILL mid-load: these are the defaults, said out loud.
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fdatasync
# Logs stay in the folder (pg_ctl -l writes log/postgresql.log).
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
log_lock_waits = on
CONF
  echo "$port" > "$REAL/port"
}

# The only ways in: the superuser over the socket as the same OS user (peer), the two roles on 127.0.0.1 with
# $AUTH (scram-sha-256 unless SIGNSERVICE_PG_AUTH says md5). No trust lines, nothing for other addresses.
write_hba() {
  as_server tee "$(DATA)/pg_hba.conf" >/dev/null <<HBA
# Written by scripts/postgres.sh.
# TYPE  DATABASE     USER                          ADDRESS        METHOD
local   all          $SERVER_USER                                 peer
host    $DATABASE  $OWNER,$RUNTIME  127.0.0.1/32   $AUTH
HBA
}

init_cluster() {
  [ -f "$(DATA)/PG_VERSION" ] && return 0
  log "initdb in $(DATA) (as $SERVER_USER, $PGBIN)"
  as_server mkdir -m 700 -p "$(DATA)" "$(SOCKET)" "$REAL/log"
  # Data checksums: a torn or corrupted page after a crash test is an error, not silently wrong data.
  as_server "$PGBIN/initdb" -D "$(DATA)" -U "$SERVER_USER" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --no-locale --data-checksums >"$REAL/initdb.log" 2>&1 ||
    { cat "$REAL/initdb.log" >&2; die "initdb failed"; }
  as_server sh -c 'printf "\n# SignService test settings (scripts/postgres.sh)\ninclude = '"'"'signservice.conf'"'"'\n" >> "$1/postgresql.conf"' _ "$(DATA)"
  write_hba
}

start_server() { # start_server PORT
  write_settings "$1"
  as_server mkdir -m 700 -p "$(SOCKET)" "$REAL/log"
  if ! as_server "$PGBIN/pg_ctl" -D "$(DATA)" -l "$REAL/log/postgresql.log" -w -t 60 start >/dev/null; then
    tail -20 "$REAL/log/postgresql.log" >&2 || true
    die "the server did not start (log: $REAL/log/postgresql.log)"
  fi
  log "PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}') on 127.0.0.1:$1, data $(DATA), as $SERVER_USER"
}

stop_server() {
  running || return 0
  as_server "$PGBIN/pg_ctl" -D "$(DATA)" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
  log "stopped (data kept in $(DATA))"
}

password_file() { # password_file NAME: a random password made once, 0600 (hex: safe in URLs)
  local file=$REAL/$1.password
  if [ ! -s "$file" ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# The roles and the database, idempotent: run at every `up` (passwords set again from their files).
superuser_psql() { as_server "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(SOCKET)" -p "$(port_of)" -U "$SERVER_USER" "$@"; }
make_roles() {
  local owner_pw runtime_pw
  owner_pw=$(password_file owner)
  runtime_pw=$(password_file runtime)
  # The passwords reach psql on its standard input, not its command line (ps shows that to every user).
  superuser_psql -d postgres <<SQL
\\set owner_pw '$owner_pw'
\\set runtime_pw '$runtime_pw'
SELECT 'CREATE ROLE $OWNER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$OWNER') \gexec
SELECT 'CREATE ROLE $RUNTIME LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$RUNTIME') \gexec
ALTER ROLE $OWNER LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD :'owner_pw';
ALTER ROLE $RUNTIME LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD :'runtime_pw';
SELECT 'CREATE DATABASE $DATABASE OWNER $OWNER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
REVOKE ALL ON DATABASE $DATABASE FROM PUBLIC;
GRANT CONNECT ON DATABASE $DATABASE TO $RUNTIME;
SQL
  superuser_psql -d "$DATABASE" <<SQL
ALTER SCHEMA public OWNER TO $OWNER;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO $RUNTIME;
ALTER DEFAULT PRIVILEGES FOR ROLE $OWNER IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO $RUNTIME;
ALTER DEFAULT PRIVILEGES FOR ROLE $OWNER IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO $RUNTIME;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $RUNTIME;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO $RUNTIME;
SQL
}

url() { printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable' "$1" "$(cat "$REAL/$2.password")" "$(port_of)" "$DATABASE"; }
write_env() {
  (umask 077 && cat > "$REAL/env.sh" <<ENV
# Made by scripts/postgres.sh: the test PostgreSQL (passwords inside: mode 0600).
export SIGNSERVICE_PG='$FOLDER'
export SIGNSERVICE_TEST_POSTGRES_PORT='$(port_of)'
export SIGNSERVICE_TEST_POSTGRES_URL='$(url "$RUNTIME" runtime)'
export SIGNSERVICE_TEST_POSTGRES_OWNER_URL='$(url "$OWNER" owner)'
export SIGNSERVICE_TEST_PGBENCH='$PGBIN/pgbench'
export SIGNSERVICE_TEST_POSTGRES_SCRIPT='$ROOT/scripts/postgres.sh'
ENV
  )
}

# The runtime role's login over TCP, as the Swift tests will make it: proves pg_hba.conf and the password.
check_login() {
  PGPASSWORD=$(cat "$REAL/runtime.password") "$PGBIN/psql" -X -q -w -h 127.0.0.1 -p "$(port_of)" -U "$RUNTIME" \
    -d "$DATABASE" -c 'SELECT 1' >/dev/null || die "the runtime role cannot log in over 127.0.0.1:$(port_of)"
}

up() {
  need_packages
  make_folder
  lock
  init_cluster
  if running; then
    log "already running on 127.0.0.1:$(port_of) ($(DATA))"
  else
    # The port it had (URLs handed out name it), unless SIGNSERVICE_PG_PORT asks for another; the next free one
    # when that is taken.
    local port=${SIGNSERVICE_PG_PORT:-$(port_of)}
    port=$(choose_port "${port:-$DEFAULT_PORT}")
    start_server "$port"
  fi
  make_roles
  write_env
  check_login
  log "up: source $FOLDER/env.sh"
}

existing() { # the folder of an existing cluster, locked
  need_packages
  resolve_folder
  [ -n "$REAL" ] && [ -f "$(DATA)/PG_VERSION" ] || die "no cluster in $FOLDER (scripts/postgres.sh up)"
  lock
}

start() {
  existing
  if running; then log "already running on 127.0.0.1:$(port_of)"; return 0; fi
  local port; port=$(port_of)
  [ -n "$port" ] || die "no port recorded in $REAL/port (scripts/postgres.sh up)"
  # The same port as before: env.sh and every URL handed out name it.
  port_busy "$port" && die "port $port is taken by another program; the cluster must come back on it"
  start_server "$port"
}

stop() {
  need_packages
  resolve_folder
  [ -n "$REAL" ] && [ -f "$(DATA)/PG_VERSION" ] || { log "no cluster in $FOLDER: nothing to stop"; return 0; }
  lock
  stop_server
}

status() {
  need_packages
  resolve_folder
  if running; then
    printf 'running on 127.0.0.1:%s, data %s (as %s)\n' "$(port_of)" "$(DATA)" "$SERVER_USER"
    printf 'env: %s\n' "$REAL/env.sh"
    return 0
  fi
  if [ -n "$REAL" ] && [ -f "$(DATA)/PG_VERSION" ]; then echo "stopped (data $(DATA))"; else echo "no cluster in $FOLDER"; fi
  return 3
}

env_path() {
  resolve_folder
  [ -n "$REAL" ] && [ -f "$REAL/env.sh" ] || die "no env.sh in $FOLDER (scripts/postgres.sh up)"
  echo "$FOLDER/env.sh"
}

as_owner() { # as_owner PROGRAM ARGS...: a client as signservice_owner over TCP, the password in the environment
  resolve_folder
  running || die "not running (scripts/postgres.sh up)"
  PGHOST=127.0.0.1 PGPORT=$(port_of) PGUSER=$OWNER PGDATABASE=$DATABASE PGSSLMODE=disable \
    PGPASSWORD=$(cat "$REAL/owner.password") "$@"
}

destroy() {
  need_packages
  resolve_folder
  [ -n "$REAL" ] || { log "no cluster in $FOLDER"; return 0; }
  lock
  stop_server
  exec 9<&-
  rm -rf "$REAL"
  [ ! -L "$FOLDER" ] || rm -f "$FOLDER"
  log "destroyed $REAL"
}

command=${1:-up}
[ $# -eq 0 ] || shift
case $command in
  up) up ;;
  down | stop) stop ;;
  start) start ;;
  restart) stop; start ;;
  status) status ;;
  env) env_path ;;
  psql) need_packages; as_owner "$PGBIN/psql" -X "$@" ;;
  pgbench)
    need_packages
    # pgbench's tables in a schema of their own, so the benchmark never touches the service's tables.
    as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -c 'CREATE SCHEMA IF NOT EXISTS pgbench' >/dev/null
    PGOPTIONS="-c search_path=pgbench" as_owner "$PGBIN/pgbench" "$@"
    ;;
  destroy) destroy ;;
  *) die "usage: $0 up|down|start|stop|restart|status|env|psql [ARGS]|pgbench [ARGS]|destroy" ;;
esac
