#!/usr/bin/env bash
# The whole mission on one machine, with embedded defaults: a manager (socket /run/runsecrets/manager.sock, TCP
# 127.0.0.1:2377), one agent joined with the worker token (mount /run/secrets), a secret, a service granted it whose
# task prints /run/secrets/NAME, `secret rm` refused while in use, `service update --secret-rm` making the file vanish
# from the running task (no restart), `service rm`, `secret rm`. Everything is cleaned up at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/runsecrets-cluster-demo.XXXXXX)
chmod 755 "$work"
mkdir -m 1777 "$work/out" # the task runs as uid 1000 and reports what it sees here
manager_pid=
agent_pid=
stop() { if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then kill -TERM "$1"; wait "$1" 2>/dev/null || true; fi; }
cleanup() {
  stop "$agent_pid"
  stop "$manager_pid"
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for() { for _ in $(seq 1 400); do if eval "$1"; then return 0; fi; sleep 0.05; done; echo "timed out: $1" >&2; exit 1; }
rs() { echo "\$ runsecrets $*"; bin/runsecrets "$@"; }

step "manager: init and run (state in $work/manager)"
bin/runsecrets manager init --state-dir "$work/manager" --advertise-addr 127.0.0.1:2377
bin/runsecrets manager run --state-dir "$work/manager" --listen 127.0.0.1:2377 --log-level warn &
manager_pid=$!
wait_for "[ -S /run/runsecrets/manager.sock ] && bin/runsecrets secret ls >/dev/null 2>&1"
# The token goes in a 0600 file (never on the agent's command line, which every user can read).
(umask 077; bin/runsecrets manager join-token worker -q > "$work/join-token")

step "agent: join with the worker token (from a file), mount /run/secrets"
bin/runsecrets agent run --manager 127.0.0.1:2377 --token-file "$work/join-token" --state-dir "$work/agent" --hostname demo-host \
  --log-level warn &
agent_pid=$!
wait_for "bin/runsecrets node ls 2>/dev/null | grep -q demo-host"
rs node ls

step "a secret and a service granted it (the stock docker CLI says the same: DOCKER_HOST=unix:///run/runsecrets/manager.sock)"
printf 'correct-horse-battery-staple' | rs secret create db_pw -
rs service create --name web --secret db_pw --user 1000:1000 --detach alpine \
  sh -c "while :; do { date +%T; ls -l /run/secrets; cat /run/secrets/db_pw 2>&1; echo; } > $work/out/task-view.txt.new; mv $work/out/task-view.txt.new $work/out/task-view.txt; sleep 0.2; done"
wait_for "grep -q correct-horse $work/out/task-view.txt 2>/dev/null"
rs service ps web
echo "-- what the task sees at /run/secrets:"; cat "$work/out/task-view.txt"

step "removing the secret while the service uses it is refused"
rs secret rm db_pw || echo "(exit code $?)"

step "service update --secret-rm: the file vanishes from the running task, no restart"
rs service update --secret-rm db_pw web >/dev/null
wait_for "! grep -q correct-horse $work/out/task-view.txt"
echo "-- what the task sees now:"; cat "$work/out/task-view.txt"
rs service ps web

step "service rm, then secret rm"
rs service rm web
wait_for "[ -z \"\$(ls /run/secrets 2>/dev/null)\" ]"
rs secret rm db_pw
rs secret ls

step "stop the agent and the manager: clean unmount"
stop "$agent_pid"; agent_pid=
stop "$manager_pid"; manager_pid=
if grep -q ' /run/secrets ' /proc/self/mountinfo; then echo "mount left behind!" >&2; exit 1; fi
echo "no mount left at /run/secrets"
echo; echo "cluster demo OK"
