#!/usr/bin/env bash
# `airflow standalone` for `make run`, stoppable by `make stop`.
#   run    in the foreground (Ctrl-C stops it), its session id in $RUN_DIR/standalone.pid
#   stop   stop it and everything it started (idempotent)
# standalone runs in a session of its own: its pid is the session id, and the session holds
# its scheduler, api-server, dag-processor, triggerer and every LocalExecutor worker and
# task process (a SIGTERM to standalone alone leaves those running). Stopping signals the
# whole session: SIGTERM, then SIGKILL to whatever is left after STOP_TIMEOUT seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN_DIR:-.run}
PIDFILE=$RUN/standalone.pid
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
mkdir -p "$RUN"

alive() { pgrep -s "$1" >/dev/null 2>&1; }

stop_session() {
  local sid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
  alive "$sid" || return 0
  pkill -TERM -s "$sid" 2>/dev/null || true
  while alive "$sid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if alive "$sid"; then pkill -KILL -s "$sid" 2>/dev/null || true; fi
  for _ in $(seq 1 50); do alive "$sid" || break; sleep 0.1; done
  echo "airflow standalone stopped (session $sid)"
}

case "${1:-run}" in
  run)
    if [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")"; then
      echo "airflow standalone already running (session $(cat "$PIDFILE")); make stop first" >&2
      exit 1
    fi
    # Not a process group leader here (no job control), so setsid execs: $! is the session.
    setsid airflow standalone </dev/null &
    sid=$!
    echo "$sid" >"$PIDFILE"
    trap 'stop_session "$sid"; rm -f "$PIDFILE"; exit 130' INT TERM HUP
    status=0
    wait "$sid" || status=$?
    stop_session "$sid"
    rm -f "$PIDFILE"
    exit "$status"
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      stop_session "$(cat "$PIDFILE")"
      rm -f "$PIDFILE"
    fi
    ;;
  *) echo "usage: $0 run|stop" >&2; exit 2 ;;
esac
