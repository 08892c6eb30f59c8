#!/usr/bin/env bash
# Runs COMMAND with a local registry serving the offline-built busybox images, then stops and removes everything.
# The registry (docker-registry on 127.0.0.1, a free port) holds busybox:1, busybox:nginx and, for --registry-mirror
# demos, library/busybox:latest and library/redis:alpine (the nginx fixture, which keeps running: make demo's
# walkthrough); COMMAND sees RUNSECRETS_DEMO_REGISTRY=127.0.0.1:PORT.
# Same steps as test/helpers/images.ts (build-busybox.sh, serve-registry.sh). Usage: with-registry.sh COMMAND [ARG...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: with-registry.sh COMMAND [ARG...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
for tool in skopeo umoci docker-registry busybox; do
  command -v "$tool" >/dev/null || { echo "with-registry.sh: needs $tool (run make setup)" >&2; exit 2; }
done
work=$(mktemp -d)
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bash "$here/build-busybox.sh" "$work/oci"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash "$here/serve-registry.sh" "$work/registry" "$port" 2>"$work/registry.log" &
registry_pid=$!
host=127.0.0.1:$port
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$registry_pid" 2>/dev/null || { cat "$work/registry.log" >&2; exit 1; }
  sleep 0.1
done
for pair in 1:busybox:1 nginx:busybox:nginx 1:library/busybox:latest nginx:library/redis:alpine; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/oci:${pair%%:*}" "docker://$host/${pair#*:}"
done
echo "registry $host serves busybox:1, busybox:nginx, library/busybox:latest, library/redis:alpine" >&2
RUNSECRETS_DEMO_REGISTRY=$host "$@"
