# Sourced by the test and CI scripts: a throwaway PostgreSQL on 127.0.0.1 for tests.
# Sets PG_URL. Installs PostgreSQL from Debian when no server binaries are found.

PG_PORT="${STEWARD_PG_PORT:-55432}"
PG_DIR="${STEWARD_PG_DIR:-/tmp/steward-pg-$PG_PORT}"
PG_USER_OS="${STEWARD_PG_OS_USER:-steward-pg}"

find_pg_bin() {
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/bin /usr/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

start_postgres() {
  PG_URL="postgres://steward@127.0.0.1:$PG_PORT/postgres"
  if pg_isready -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; then
    echo "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  local bin
  if ! bin=$(find_pg_bin); then
    echo "installing PostgreSQL from Debian"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bin=$(find_pg_bin)
  fi
  # initdb refuses to run as root: use an unprivileged user of our own.
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id "$PG_USER_OS" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER_OS"
    run=(runuser -u "$PG_USER_OS" --)
  fi
  rm -rf "$PG_DIR"; mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown "$PG_USER_OS" "$PG_DIR"
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U steward --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  echo "PostgreSQL started on 127.0.0.1:$PG_PORT ($bin)"
}
