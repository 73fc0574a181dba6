#!/usr/bin/env bash
# The distributed deployment as plain processes on this machine: api-server, scheduler,
# dag-processor, triggerer and two Celery workers (CeleryExecutor, Redis broker), the
# metadata DB and the staging warehouse on PostgreSQL, and both sandboxes.
#   start    create + migrate the databases, create the pool, start everything (idempotent)
#   stop     stop every process this script started, by process group (idempotent)
#   status   which processes are running
# Settings: deploy/cluster.env (+ deploy/sandboxes.env for the connections), taken
# literally; CLUSTER_ENV_FILES (space-separated) names other files (the tests use copies
# with their own databases and ports). Each process runs in its own session, so its pid
# is its session id: stopping signals the session, which holds every descendant (task
# processes put themselves in process groups of their own, but stay in the session).
# pid and log files:
# $CLUSTER_RUN (default .run/cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=${CLUSTER_RUN:-$ROOT/.run/cluster}
BIN=$ROOT/.venv/bin
ENV_FILES=${CLUSTER_ENV_FILES:-deploy/cluster.env deploy/sandboxes.env}
WORKERS=${CLUSTER_WORKERS:-2}
STOP_TIMEOUT=${CLUSTER_STOP_TIMEOUT:-30}
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)

load_settings() {
  # KEY=VALUE lines, literally: the same reading docker-compose's env_file gives them.
  local file line key
  for file in $ENV_FILES; do
    [ -f "$file" ] || { echo "cluster: settings file $file not found" >&2; exit 2; }
    while IFS= read -r line || [ -n "$line" ]; do
      [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
      key=${line%%=*}
      export "$key=${line#*=}"
    done <"$file"
  done
  export AIRFLOW_HOME=${CLUSTER_AIRFLOW_HOME:-$RUN/home}
  export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
  export AIRFLOW__CORE__PLUGINS_FOLDER=$ROOT/plugins
  export RUN_DIR=$RUN
  export PATH="$BIN:$PATH"
  mkdir -p "$AIRFLOW_HOME"
}

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

launch() {  # name command...: in its own session (pid = session id)
  local name=$1; shift
  if running "$name"; then
    echo "$name already running (pid $(cat "$RUN/$name.pid"))"
    return
  fi
  setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  echo "$name started (pid $!, log $RUN/$name.log)"
}

secrets() {
  # Per deployment, never committed: the JWT secret every component signs/validates the
  # execution API's tokens with, the Fernet key, and the UI password of each user.
  local file=$RUN/secrets.env
  if [ ! -f "$file" ]; then
    (umask 077; "$BIN/python" - >"$file" <<'PY'
import secrets
from cryptography.fernet import Fernet
print(f"AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_urlsafe(32)}")
print(f"AIRFLOW__CORE__FERNET_KEY={Fernet.generate_key().decode()}")
PY
    )
  fi
  load_secrets "$file"
  local passwords=$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$passwords
  if [ ! -f "$passwords" ]; then
    (umask 077; "$BIN/python" - "$passwords" <<'PY'
import json, os, secrets, sys
users = [u.split(":")[0] for u in os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")]
json.dump({u.strip(): secrets.token_urlsafe(12) for u in users if u.strip()},
          open(sys.argv[1], "w"))
PY
    )
  fi
}

load_secrets() {
  local line
  while IFS= read -r line; do export "${line%%=*}=${line#*=}"; done <"$1"
}

check_ports() {
  # The sandbox ports must be the ones the connections name, or tasks call nothing.
  [[ "$AIRFLOW_CONN_HUBSPOT_DEFAULT" == *"127.0.0.1:$HUBSPOT_PORT"* ]] || {
    echo "cluster: AIRFLOW_CONN_HUBSPOT_DEFAULT does not name 127.0.0.1:$HUBSPOT_PORT" >&2
    exit 2; }
  [[ "$AIRFLOW_CONN_OFFICERND_DEFAULT" == *"127.0.0.1:$OFFICERND_PORT"* ]] || {
    echo "cluster: AIRFLOW_CONN_OFFICERND_DEFAULT does not name 127.0.0.1:$OFFICERND_PORT" >&2
    exit 2; }
}

databases() {
  # The metadata DB and the warehouse in databases of their own, created if missing.
  "$BIN/python" deploy/create_databases.py
}

start() {
  load_settings
  check_ports
  secrets
  databases
  "$BIN/airflow" db migrate >"$RUN/migrate.log" 2>&1 || {
    echo "cluster: airflow db migrate failed; see $RUN/migrate.log" >&2; tail -20 "$RUN/migrate.log" >&2
    exit 1; }
  "$BIN/airflow" pools set hubspot_api "$SYNC_HUBSPOT_POOL_SLOTS" \
    "Tasks that call HubSpot, shared by every entity DAG" >/dev/null
  HUBSPOT_PORT=$HUBSPOT_PORT OFFICERND_PORT=$OFFICERND_PORT scripts/sandboxes.sh start
  launch api-server "$BIN/airflow" api-server --port "$AIRFLOW__API__PORT"
  launch scheduler "$BIN/airflow" scheduler
  launch dag-processor "$BIN/airflow" dag-processor
  launch triggerer "$BIN/airflow" triggerer
  local ports i
  read -r -a ports <<<"${CLUSTER_WORKER_LOG_PORTS:-}"
  for i in $(seq 1 "$WORKERS"); do
    # Own name (task instances' hostname, Celery node name) and own log-server port.
    local port=${ports[$((i - 1))]:-$((AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT + 2 * (i - 1)))}
    SYNC_WORKER_NAME="worker$i" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$port \
      launch "worker$i" "$BIN/airflow" celery worker --celery-hostname "worker$i@%h" \
      --queues default
  done
  local url="http://127.0.0.1:$AIRFLOW__API__PORT"
  for _ in $(seq 1 240); do
    curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1 && break
    running api-server || { echo "api-server exited; see $RUN/api-server.log" >&2
                            tail -20 "$RUN/api-server.log" >&2; exit 1; }
    sleep 0.5
  done
  curl -fsS "$url/api/v2/monitor/health" >/dev/null || {
    echo "api-server did not answer at $url" >&2; exit 1; }
  echo "Airflow UI: $url  (users and passwords: $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE)"
}

stop() {
  # SIGTERM to every session, then SIGKILL to whatever is left after the timeout.
  local name pid pids=()
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    [ "$name" = hubspot ] || [ "$name" = officernd ] && continue
    pid=$(cat "$f")
    if session_alive "$pid"; then
      pkill -TERM -s "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + STOP_TIMEOUT))
  for pid in "${pids[@]}"; do
    while session_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if session_alive "$pid"; then pkill -KILL -s "$pid" 2>/dev/null || true; fi
  done
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    [ "$name" = hubspot ] || [ "$name" = officernd ] || rm -f "$f"
  done
  if [ ${#pids[@]} -gt 0 ]; then echo "cluster: stopped ${#pids[@]} processes and their sessions"; fi
  RUN_DIR=$RUN scripts/sandboxes.sh stop
}

session_alive() { pgrep -s "$1" >/dev/null 2>&1; }

status() {
  local f name
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    if running "$name"; then echo "$name: running (pid $(cat "$f"))"
    else echo "$name: not running"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
