# Sourced by the test and CI scripts: a throwaway 3-node NATS JetStream cluster on 127.0.0.1.
# Installs Debian's nats-server when it is missing. start_nats_cluster sets and exports
# STEWARD_TEST_NATS_URL (the three client URLs, comma-separated); kill_nats_node N and
# restart_nats_node N (N = 1..3) are for fault tests; stop_nats_cluster ends it all.
#
# Ports: node N listens for clients on NATS_PORT+N-1, for routes on NATS_PORT+100+N-1 and for
# monitoring (/healthz, /jsz) on NATS_PORT+200+N-1. Each node has its own JetStream store.

NATS_PORT="${STEWARD_NATS_PORT:-44222}"
NATS_DIR="${STEWARD_NATS_DIR:-/tmp/steward-nats-$NATS_PORT}"
NATS_NODES=3

nats_client_port() { echo $((NATS_PORT + $1 - 1)); }
nats_route_port() { echo $((NATS_PORT + 100 + $1 - 1)); }
nats_monitor_port() { echo $((NATS_PORT + 200 + $1 - 1)); }

install_nats() {
  command -v nats-server >/dev/null 2>&1 && return 0
  echo "installing nats-server from Debian"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
}

nats_write_config() {
  local n=$1 routes="" i
  for i in $(seq 1 $NATS_NODES); do
    routes="$routes    nats-route://127.0.0.1:$(nats_route_port "$i")
"
  done
  mkdir -p "$NATS_DIR/n$n/js"
  cat >"$NATS_DIR/n$n.conf" <<EOF
server_name: n$n
listen: 127.0.0.1:$(nats_client_port "$n")
http: 127.0.0.1:$(nats_monitor_port "$n")
jetstream {
  store_dir: "$NATS_DIR/n$n/js"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: steward
  listen: 127.0.0.1:$(nats_route_port "$n")
  routes: [
$routes  ]
}
EOF
}

# Starts node N from its config (kept across restarts, as is its store).
nats_start_node() {
  local n=$1
  nats-server -c "$NATS_DIR/n$n.conf" >>"$NATS_DIR/n$n.log" 2>&1 &
  echo $! >"$NATS_DIR/n$n.pid"
}

# Waits until node N answers /healthz and knows the JetStream meta leader.
nats_wait_node() {
  local n=$1 port deadline=$((SECONDS + ${2:-60}))
  port=$(nats_monitor_port "$n")
  while [ $SECONDS -lt $deadline ]; do
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 &&
      curl -sf "http://127.0.0.1:$port/jsz" 2>/dev/null | grep -q '"leader": *"n[0-9]'; then
      return 0
    fi
    sleep 0.2
  done
  echo "nats node n$n not ready after ${2:-60}s; log: $NATS_DIR/n$n.log" >&2
  tail -20 "$NATS_DIR/n$n.log" >&2
  return 1
}

# True when all three nodes answer /healthz (JetStream current included).
nats_cluster_healthy() {
  local i
  for i in $(seq 1 $NATS_NODES); do
    curl -sf -m 2 "http://127.0.0.1:$(nats_monitor_port "$i")/healthz" >/dev/null 2>&1 || return 1
  done
}

start_nats_cluster() {
  local urls="" i start=$SECONDS
  for i in $(seq 1 $NATS_NODES); do
    urls="${urls:+$urls,}nats://127.0.0.1:$(nats_client_port "$i")"
  done
  # The fault tests call kill_nats_node/restart_nats_node from their own shells.
  export STEWARD_TEST_NATS_URL="$urls" STEWARD_NATS_PORT="$NATS_PORT" STEWARD_NATS_DIR="$NATS_DIR"
  # A running cluster is kept: on a loaded machine /healthz can be slow, so while any node is
  # up it gets 30 s to answer before it counts as broken and is started again.
  local wait_until=$SECONDS
  nats_any_alive && wait_until=$((SECONDS + 30))
  while true; do
    if nats_cluster_healthy; then
      echo "NATS cluster already running on $urls"
      return 0
    fi
    [ $SECONDS -lt $wait_until ] || break
    sleep 1
  done
  install_nats || return 1
  # Whatever is left of an earlier cluster on these ports (a node down, a store behind) goes.
  stop_nats_cluster
  mkdir -p "$NATS_DIR"
  for i in $(seq 1 $NATS_NODES); do nats_write_config "$i"; nats_start_node "$i"; done
  for i in $(seq 1 $NATS_NODES); do nats_wait_node "$i" || return 1; done
  echo "NATS JetStream cluster of $NATS_NODES started on $urls in $((SECONDS - start))s ($(nats-server --version))"
}

# The pid of node N: from its pid file, else the process started on its config file.
nats_node_pid() {
  cat "$NATS_DIR/n$1.pid" 2>/dev/null || pgrep -f -x "nats-server -c $NATS_DIR/n$1.conf" | head -1 || true
}

# True when the process of any node is running.
nats_any_alive() {
  local i pid
  for i in $(seq 1 $NATS_NODES); do
    pid=$(nats_node_pid "$i")
    if [ -n "$pid" ] && nats_pid_alive "$pid"; then return 0; fi
  done
  return 1
}

# A process that has exited but is not yet reaped (a zombie) counts as gone.
nats_pid_alive() {
  ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'
}

# SIGKILL node N: no chance to flush, as a crash.
kill_nats_node() {
  local n=$1 pid
  pid=$(nats_node_pid "$n")
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null || true
  while nats_pid_alive "$pid"; do sleep 0.05; done
  rm -f "$NATS_DIR/n$n.pid"
}

# Starts node N again on its old store and waits until it is back in the cluster.
restart_nats_node() {
  local n=$1
  kill_nats_node "$n"
  nats_start_node "$n"
  nats_wait_node "$n"
}

stop_nats_cluster() {
  local i pid pids=()
  for i in $(seq 1 $NATS_NODES); do
    pid=$(nats_node_pid "$i")
    if [ -n "$pid" ]; then pids+=("$pid"); kill "$pid" 2>/dev/null || true; fi
  done
  local deadline=$((SECONDS + 10))
  for pid in ${pids[@]+"${pids[@]}"}; do
    while nats_pid_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if nats_pid_alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$NATS_DIR"
}
