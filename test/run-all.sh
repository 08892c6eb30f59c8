#!/usr/bin/env bash
# Runs the whole tap suite and ends with the plain line CI reads: `N passed, N failed` (and skipped).
# The full TAP stream is kept in .tap/last-run.tap (or $RS_TAP_LOG); skips, the figures the reliability suite
# prints (`# figure ...`) and failures are echoed here.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tap
log=${RS_TAP_LOG:-.tap/last-run.tap}
npx tap --reporter=tap "$@" >"$log" 2>&1
status=$?
# Skips with their reasons, then the figures, then each failed assertion (path, source line, first lines of its
# diff): failures come last, next to the summary, because CI keeps only the end of the output.
grep -anE '# SKIP|# skip' "$log" | head -100 || true
grep -aE '^\s*# (figure|seed) ' "$log" | sed -E 's/^\s*# //' || true
awk -f test/fail-summary.awk "$log" || true
summary=$(grep -aE '^# \{ total: [0-9]+' "$log" | tail -n 1)
echo "${summary:-# no summary: see $log}"
total=$(sed -nE 's/.*total: ([0-9]+).*/\1/p' <<<"$summary")
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
if [ -z "$total" ] || [ "$total" = 0 ]; then echo "no tests ran" >&2; exit 1; fi
exit $status
