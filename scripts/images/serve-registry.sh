#!/usr/bin/env bash
# Runs Debian's docker-registry (distribution 2.8) on 127.0.0.1:PORT with its storage under DIR, in the
# foreground (exec: the caller's child is the registry). With HTPASSWD (a bcrypt file, htpasswd -B), pulls need
# basic auth. Used by test/helpers/images.ts and the demo. Usage: serve-registry.sh DIR PORT [HTPASSWD]
set -euo pipefail
dir=${1:?usage: serve-registry.sh DIR PORT [HTPASSWD]}
port=${2:?usage: serve-registry.sh DIR PORT [HTPASSWD]}
htpasswd=${3:-}
mkdir -p "$dir/storage"
{
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
  printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/storage"
  printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
  if [ -n "$htpasswd" ]; then printf 'auth:\n  htpasswd:\n    realm: runsecrets-test\n    path: %s\n' "$htpasswd"; fi
} > "$dir/config.yml"
exec docker-registry serve "$dir/config.yml"
