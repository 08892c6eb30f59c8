#!/usr/bin/env bash
# Runs the whole tap suite and ends with the plain line CI reads: `N passed, N failed` (and skipped).
# The full TAP stream is kept in .tap/last-run.tap (or $RS_TAP_LOG); failures, skips and the figures the
# reliability suite prints (`# figure ...`) are echoed here.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tap
log=${RS_TAP_LOG:-.tap/last-run.tap}
npx tap --reporter=tap "$@" >"$log" 2>&1
status=$?
# Show what needs eyes: failures with their diagnostics' first lines, skips with their reasons.
grep -anE '^\s*not ok|# SKIP|# skip' "$log" | head -200 || true
grep -aE '^\s*# (figure|seed) ' "$log" | sed -E 's/^\s*# //' || true
summary=$(grep -aE '^# \{ total: [0-9]+' "$log" | tail -n 1)
echo "${summary:-# no summary: see $log}"
total=$(sed -nE 's/.*total: ([0-9]+).*/\1/p' <<<"$summary")
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
if [ -z "$total" ] || [ "$total" = 0 ]; then echo "no tests ran" >&2; exit 1; fi
exit $status
