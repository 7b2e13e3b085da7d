# Starts a throw-away PostgreSQL server on 127.0.0.1 and exports CNIGUARD_TEST_PG_URL.
# Sourced by .ci/run; usable by hand: `source .ci/postgres.sh && start_postgres`.
pg_bin() {
  if command -v initdb >/dev/null; then dirname "$(readlink -f "$(command -v initdb)")"
  else dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"; fi
}

start_postgres() {
  local bin port
  bin=$(pg_bin)
  PG_DIR=$(mktemp -d /tmp/cniguard-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local as=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U cniguard --auth=trust -E UTF8 >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off" start >/dev/null
  "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U cniguard cniguard_test
  export CNIGUARD_TEST_PG_URL="postgresql+psycopg://cniguard@127.0.0.1:$port/cniguard_test"
  export PG_BIN="$bin" PG_DIR
  echo "ci: PostgreSQL on 127.0.0.1:$port"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
