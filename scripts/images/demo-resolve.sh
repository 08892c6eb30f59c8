#!/usr/bin/env bash
# Image resolution on one machine, offline: a local registry with the busybox images (with-registry.sh), a manager
# with --registry-mirror pointing at it, and the stock docker CLI pinning image@sha256 with no warning (a tag with
# --no-resolve-image; busybox from Docker Hub's name served by the mirror). Everything is removed at the end.
# Run through with-registry.sh (make demo-images does).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${RUNSECRETS_DEMO_REGISTRY:?run through scripts/images/with-registry.sh}"
reg=$RUNSECRETS_DEMO_REGISTRY
work=$(mktemp -d /tmp/runsecrets-images-demo.XXXXXX)
manager_pid=
cleanup() {
  if [ -n "$manager_pid" ] && kill -0 "$manager_pid" 2>/dev/null; then kill -TERM "$manager_pid"; wait "$manager_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
export DOCKER_HOST=unix://$work/manager.sock DOCKER_CONFIG=$work/docker DOCKER_CLI_HINTS=false
run() { echo "\$ $*"; "$@"; }

step "manager with --registry-mirror http://$reg"
bin/runsecrets manager init --state-dir "$work/state" --advertise-addr 127.0.0.1:2377 >/dev/null
bin/runsecrets manager run --state-dir "$work/state" --socket "$work/manager.sock" --listen none --log-level warn \
  --registry-mirror "http://$reg" &
manager_pid=$!
for _ in $(seq 200); do [ -S "$work/manager.sock" ] && docker version >/dev/null 2>&1 && break; sleep 0.05; done

step "service create pins the digest the registry serves (no warning)"
run docker service create --detach --name pinned "$reg/busybox:1"
run docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' pinned

step "--no-resolve-image keeps the tag"
run docker service create --detach --no-resolve-image --name tagged "$reg/busybox:1"
run docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' tagged

step "busybox (docker.io/library/busybox) comes from the mirror, offline"
run docker service create --detach --name hub busybox
run docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' hub

step "a tag the registry lacks: Docker's warning, the tag kept"
run docker service create --detach --name missing "$reg/busybox:nope"
run docker service rm pinned tagged hub missing
