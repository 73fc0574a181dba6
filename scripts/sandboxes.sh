#!/usr/bin/env bash
# Start / stop both sandboxes in the background. pid and log files live under .run/.
#   start   start whichever is not already running (idempotent)
#   ensure  start them only if the configured connections point at the sandboxes
#   stop    stop both (idempotent)
# RUN_DIR: folder of the pid, log and state files (default .run; `make cluster` and the
# tests use their own). HUBSPOT_ARGS / OFFICERND_ARGS: extra options (e.g. "--scale 100").
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN_DIR:-.run}
PY=.venv/bin/python
HUBSPOT_PORT=${HUBSPOT_PORT:-8091}
OFFICERND_PORT=${OFFICERND_PORT:-8092}
mkdir -p "$RUN"

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() {  # name port args...
  local name=$1 port=$2; shift 2
  if running "$name"; then
    echo "$name sandbox already running (pid $(cat "$RUN/$name.pid"), port $port)"
    return
  fi
  nohup "$PY" -m sandbox "$name" --port "$port" "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/_sandbox/stats" >/dev/null 2>&1; then
      echo "$name sandbox on http://127.0.0.1:$port (pid $(cat "$RUN/$name.pid"), log $RUN/$name.log)"
      return
    fi
    running "$name" || break
    sleep 0.2
  done
  echo "$name sandbox failed to start; last lines of $RUN/$name.log:" >&2
  tail -20 "$RUN/$name.log" >&2
  exit 1
}

stop_one() {
  if running "$1"; then
    local pid
    pid=$(cat "$RUN/$1.pid")
    kill "$pid" && echo "$1 sandbox stopped"
    # Gone before returning, so a restart on the same port does not race it.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$RUN/$1.pid"
}

case "${1:-start}" in
  start)
    # shellcheck disable=SC2086  # the extra options are words on purpose
    start_one hubspot "$HUBSPOT_PORT" --state "$RUN/hubspot-state.sqlite" ${HUBSPOT_ARGS:-}
    # shellcheck disable=SC2086
    start_one officernd "$OFFICERND_PORT" --state "$RUN/officernd-state.sqlite" \
      ${OFFICERND_ARGS:-}
    ;;
  ensure)
    if [[ "${AIRFLOW_CONN_HUBSPOT_DEFAULT:-}" == *"127.0.0.1:$HUBSPOT_PORT"* ]] || \
       [[ "${AIRFLOW_CONN_OFFICERND_DEFAULT:-}" == *"127.0.0.1:$OFFICERND_PORT"* ]]; then
      "$0" start
    fi
    ;;
  stop)
    stop_one hubspot
    stop_one officernd
    ;;
  *) echo "usage: $0 start|ensure|stop" >&2; exit 2 ;;
esac
