#!/usr/bin/env bash
# The whole mission on one machine, with embedded defaults, as Docker's secrets walkthrough does it with the stock
# docker CLI: a manager (socket /run/runsecrets/manager.sock, TCP 127.0.0.1:2377), one agent joined with the worker
# token (mount /run/secrets, tasks as runc containers), `redis:alpine` from a local registry on 127.0.0.1 acting as
# the Docker Hub mirror (an image built offline from busybox-static), a secret granted to the service, `docker ps`
# and `docker container exec` reading /run/secrets inside the container, `secret rm` refused while in use,
# `service update --secret-rm` making the file vanish from the running container (no restart: the live label), `service rm`,
# `secret rm`. Run through scripts/images/with-registry.sh (make demo does); everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RUNSECRETS_DEMO_REGISTRY:?run through scripts/images/with-registry.sh (make demo)}"
mirror=http://$RUNSECRETS_DEMO_REGISTRY
work=$(mktemp -d /tmp/runsecrets-cluster-demo.XXXXXX)
chmod 755 "$work"
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
wait_for() { for _ in $(seq 1 600); do if eval "$1"; then return 0; fi; sleep 0.05; done; echo "timed out: $1" >&2; exit 1; }
export DOCKER_HOST=unix:///run/runsecrets/manager.sock DOCKER_CONFIG=$work/docker DOCKER_CLI_HINTS=false
run() { echo "\$ $*"; "$@"; }

step "manager: init and run (state in $work/manager; Docker Hub images from the mirror $mirror)"
bin/runsecrets manager init --state-dir "$work/manager" --advertise-addr 127.0.0.1:2377
bin/runsecrets manager run --state-dir "$work/manager" --listen 127.0.0.1:2377 --log-level warn --registry-mirror "$mirror" &
manager_pid=$!
wait_for "[ -S /run/runsecrets/manager.sock ] && docker version >/dev/null 2>&1"
# The token goes in a 0600 file (never on the agent's command line, which every user can read).
(umask 077; bin/runsecrets manager join-token worker -q > "$work/join-token")

step "agent: join with the worker token (from a file), mount /run/secrets, run tasks as runc containers"
bin/runsecrets agent run --manager 127.0.0.1:2377 --token-file "$work/join-token" --state-dir "$work/agent" --hostname demo-host \
  --registry-mirror "$mirror" --log-level warn &
agent_pid=$!
wait_for "docker node ls 2>/dev/null | grep -q demo-host"
run docker node ls

step "Docker's walkthrough: a secret, and redis:alpine granted it (the image is pinned by digest)"
echo "\$ printf 'This is a secret' | docker secret create my_secret_data -"
printf 'This is a secret' | docker secret create my_secret_data -
# live: secret changes reach the running container in place (docs/updates.md); Docker's default replaces it.
run docker service create --quiet --name redis --label com.runsecrets.secret-update=live --secret my_secret_data redis:alpine
run docker service ps redis
cid=$(docker ps --filter name=redis -q)
run docker ps --filter name=redis
run docker container exec "$cid" ls -l /run/secrets
run docker container exec "$cid" cat /run/secrets/my_secret_data; echo

step "removing the secret while the service uses it is refused"
run docker secret rm my_secret_data || echo "(exit code $?)"

step "service update --secret-rm: the file vanishes from the running container, no restart"
run docker service update --detach --secret-rm my_secret_data redis >/dev/null
wait_for "! docker container exec $cid cat /run/secrets/my_secret_data >/dev/null 2>&1"
run docker container exec "$cid" cat /run/secrets/my_secret_data || echo "(exit code $?)"
[ "$(docker ps --filter name=redis -q)" = "$cid" ] && echo "(the same container: not restarted)"

step "service rm, then secret rm"
run docker service rm redis
wait_for "[ -z \"\$(ls /run/secrets 2>/dev/null)\" ]"
run docker secret rm my_secret_data
run docker secret ls

step "stop the agent and the manager: clean unmount, no container left"
stop "$agent_pid"; agent_pid=
stop "$manager_pid"; manager_pid=
if grep -q ' /run/secrets ' /proc/self/mountinfo; then echo "mount left behind!" >&2; exit 1; fi
echo "no mount left at /run/secrets"
echo; echo "cluster demo OK"
