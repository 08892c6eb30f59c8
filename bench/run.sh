#!/usr/bin/env bash
# `make bench`: builds the tiny C reader, then runs each benchmark; every comparison is side by side in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
gcc -O2 -o bench/out/reader bench/reader.c
node dist/bench/agent-bench.js
# manager: secret creates vs Debian's etcd (installed here if missing), and `secret ls` with 10,000 secrets
command -v etcd >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq etcd-server; }
node dist/bench/manager-bench.js
# cluster: grant/revoke latency and agent memory per 1,000 tasks, a real manager and 1 then 20 real agents on this machine
node dist/bench/cluster-bench.js
# idle agent memory against a bare Node process, side by side
node dist/bench/agent-rss-bench.js
# task start for a cached image: runc containers vs the process runtime (a local registry with the fixture images)
bash scripts/images/with-registry.sh node dist/bench/container-start-bench.js
