#!/usr/bin/env bash
# `make test-install`: the package as npm users get it. `npm pack` (its prepack builds dist/), checks what the
# tarball holds, `npm install -g --prefix SCRATCH` from it (the registry supplies the dependencies; better-sqlite3 is
# built or fetched prebuilt as npm does), then from SCRATCH/bin: `runsecrets version`, `-v`, and the standalone demo
# (scripts/demo.sh with RUNSECRETS_BIN set to the installed binary, on a mount of its own). Prints
# "install: PASS" or "install: FAIL: why" and exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
scratch=$(mktemp -d /tmp/runsecrets-install.XXXXXX)
chmod 755 "$scratch"
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT
fail() { echo "install: FAIL: $*"; exit 1; }
ok() { echo "install: ok: $*"; }

version=$(node -p 'require("./package.json").version')
npm pack --pack-destination "$scratch" >"$scratch/pack.out" 2>&1 || { cat "$scratch/pack.out"; fail "npm pack"; }
tgz="$scratch/runsecrets-$version.tgz"
[ -f "$tgz" ] || fail "npm pack made no $tgz"
ok "npm pack -> $(basename "$tgz") ($(du -k "$tgz" | cut -f1) KiB)"

tar -tzf "$tgz" | sed 's|^package/||' | sort >"$scratch/files"
for f in bin/runsecrets bin/package.json package.json dist/cli/main.js dist/agent/managed-agent.js \
  dist/manager/manager.js packaging/systemd/runsecrets-manager.service packaging/systemd/runsecrets-agent.service; do
  grep -qx "$f" "$scratch/files" || fail "the tarball lacks $f"
done
if grep -E '^(test|bench|node_modules|\.ci)/|\.ts$|\.map$' "$scratch/files" | grep -v '\.d\.ts$' | head -5 | grep -q .; then
  fail "the tarball holds files users do not need: $(grep -E '^(test|bench|node_modules|\.ci)/|\.ts$|\.map$' "$scratch/files" | head -3 | tr '\n' ' ')"
fi
ok "tarball holds bin/, dist/ and packaging/, no tests, sources or maps ($(wc -l <"$scratch/files") files)"
# Files of the product that are not TypeScript (a launcher script next to its module, …) are read at run time
# from the package: each one tracked in the product's folders must be in the tarball.
for f in $(git ls-files agent manager shared cli | grep -v '\.ts$'); do
  grep -qx "$f" "$scratch/files" || fail "the tarball lacks $f, which the product reads at run time (package.json files)"
done

# A scratch prefix and a cold npm cache of its own would refetch everything; the shared cache is what a user's
# machine has after any npm use, and the install still resolves every dependency from the registry's metadata.
npm install -g --prefix "$scratch/prefix" --no-audit --no-fund "$tgz" >"$scratch/install.out" 2>&1 \
  || { tail -30 "$scratch/install.out"; fail "npm install -g --prefix from the tarball"; }
bin="$scratch/prefix/bin/runsecrets"
[ -x "$bin" ] || fail "no runsecrets in $scratch/prefix/bin"
ok "npm install -g --prefix: $bin"

out=$(PATH="$scratch/prefix/bin:$PATH" runsecrets version) || fail "runsecrets version exited $?"
[[ "$out" == "runsecrets version $version "* ]] || fail "runsecrets version printed: $out"
[ "$(PATH="$scratch/prefix/bin:$PATH" runsecrets -v)" = "$out" ] || fail "runsecrets -v differs from runsecrets version"
ok "runsecrets on PATH: $out"

# The native binding loads (the manager's store opens SQLite): manager init makes a store.
PATH="$scratch/prefix/bin:$PATH" runsecrets manager init --state-dir "$scratch/mgr" >/dev/null 2>"$scratch/init.err" \
  || { cat "$scratch/init.err"; fail "runsecrets manager init from the installed package"; }
ok "manager init from the installed package (better-sqlite3 loads)"

# The units shipped in the package verify against the installed binary (the bare ExecStart name pointed at it).
units="$scratch/prefix/lib/node_modules/runsecrets/packaging/systemd"
if ! command -v systemd-analyze >/dev/null; then
  echo "install: SKIP systemd-analyze verify: no systemd-analyze (Debian package systemd)"
else
  mkdir "$scratch/units"
  for u in "$units"/*; do sed "s|^ExecStart=runsecrets |ExecStart=$bin |" "$u" >"$scratch/units/$(basename "$u")"; done
  out=$(cd "$scratch/units" && systemd-analyze verify ./*.service ./*.target 2>&1 | grep runsecrets)
  [ -z "$out" ] || fail "systemd-analyze verify on the installed units: $out"
  ok "systemd-analyze verify: the installed units ($(ls "$scratch/units" | tr '\n' ' '))"
fi

if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
  echo "install: SKIP the standalone demo: needs root and /dev/fuse"
else
  mkdir "$scratch/mnt"
  RUNSECRETS_BIN="$bin" MOUNT="$scratch/mnt" bash scripts/demo.sh >"$scratch/demo.out" 2>&1 \
    || { tail -30 "$scratch/demo.out"; fail "the standalone demo with the installed binary"; }
  grep -qx 'demo OK' "$scratch/demo.out" || fail "the demo did not print 'demo OK'"
  ok "standalone demo with the installed binary"
fi
echo "install: PASS"
