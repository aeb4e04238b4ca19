#!/bin/sh
# Restarts (or first starts) the demo app of one test host:  restart.sh <appDir>
#
# <appDir>/app.env sets APP_ADDRESS, APP_PORT, APP_NAME and NODE, and for an app that reads from
# PostgreSQL APP_READ_URL and APP_PG_MODULE (see server.mjs); <appDir>/current is the release
# to run. The running app (pid in <appDir>/app.pid) gets SIGTERM and the script waits for it to
# exit (SIGKILL after 30 s), then starts `current/server.mjs` in its own session with stdin from
# /dev/null, output appended to <appDir>/app.log and descriptors 3-9 closed, so the new process
# holds none of the caller's pipes or lock files (an SSH exec would otherwise never see EOF, and a
# lock held through an inherited descriptor would hang the next restart). It returns once the new
# process is listening (it writes app.pid then); it fails with the end of the log when the new
# process exits first or is not listening within 10 s.
set -eu

app_dir=${1:?usage: restart.sh <appDir>}
# Only app.env decides whether the app reads from a database, never the caller's environment.
unset APP_READ_URL APP_PG_MODULE
. "$app_dir/app.env"
pid_file=$app_dir/app.pid
log=$app_dir/app.log

# kill -0 also succeeds for a zombie, and an exited app can stay one when nothing reaps orphans.
running() {
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

old=$(cat "$pid_file" 2>/dev/null || true)
if [ -n "$old" ] && running "$old" && grep -q server.mjs "/proc/$old/cmdline" 2>/dev/null; then
  kill -TERM "$old" 2>/dev/null || true
  waited=0
  while running "$old"; do
    waited=$((waited + 1))
    [ "$waited" -eq 3000 ] && kill -KILL "$old" 2>/dev/null
    sleep 0.01
  done
fi
rm -f "$pid_file"

APP_PID_FILE=$pid_file
export APP_ADDRESS APP_PORT APP_NAME APP_PID_FILE
if [ -n "${APP_READ_URL:-}" ]; then export APP_READ_URL APP_PG_MODULE; fi
# The app starts the same whoever restarts it: not with a test harness's NODE_OPTIONS, and not
# parsing a machine-wide extra CA bundle it never uses (that alone adds ~60 ms to a start here).
unset NODE_OPTIONS NODE_EXTRA_CA_CERTS
setsid "$NODE" "$app_dir/current/server.mjs" </dev/null >>"$log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
# Without job control the background process is no group leader, so setsid execs node in place.
new=$!

waited=0
until [ -s "$pid_file" ] && running "$(cat "$pid_file")"; do
  waited=$((waited + 1))
  if [ "$waited" -ge 1000 ] || ! running "$new"; then
    echo "restart.sh: $APP_NAME did not start listening on $APP_ADDRESS:$APP_PORT; end of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  sleep 0.01
done
