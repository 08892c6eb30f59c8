#!/usr/bin/env bash
# `make demo`: the main job on its defaults. A standalone agent mounts /run/secrets from the sample manifest in
# examples/standalone; other processes read through the mount (as the task's user, and as a "container" that sees
# only its own folder at /run/secrets); a rotation and a removal show up live; SIGTERM leaves no mount behind.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUNT=${MOUNT:-/run/secrets}
# RUNSECRETS_BIN: the binary to run (default: this checkout's bin/runsecrets; the install test passes the installed one).
work=$(mktemp -d /tmp/runsecrets-demo.XXXXXX)
chmod 755 "$work"
cp -r examples/standalone "$work/tasks"
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill -TERM "$agent_pid"; wait "$agent_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for() { for _ in $(seq 1 200); do if eval "$1"; then return 0; fi; sleep 0.05; done; echo "timed out: $1" >&2; exit 1; }

step "start the agent: runsecrets agent run --standalone --tasks-dir $work/tasks (mount $MOUNT)"
"${RUNSECRETS_BIN:-bin/runsecrets}" agent run --standalone --tasks-dir "$work/tasks" --mount "$MOUNT" 2>"$work/agent.log" &
agent_pid=$!
wait_for "[ -e $MOUNT/web/app.conf ]"
grep " $MOUNT " /proc/self/mountinfo | sed 's/^/  mountinfo: /'

step "the task's folder, as root"
ls -la "$MOUNT" "$MOUNT/web"

step "the task's user (uid 1000) reads its secret"
setpriv --reuid 1000 --regid 1000 --clear-groups cat "$MOUNT/web/db_password"; echo

step "another user (uid 1001) cannot even list the task's folder"
setpriv --reuid 1001 --regid 1001 --clear-groups ls "$MOUNT/web" 2>&1 | sed 's/^/  /' || true

step "a 'container': its own folder bound at /run/secrets in a private mount namespace (like docker run -v $MOUNT/web:/run/secrets:ro)"
# Without a /run/secrets on the host (MOUNT elsewhere), the namespace gets its own /run, out of the host's sight.
mkdir "$work/ctr"
unshare --mount --propagation private sh -c "mount --bind '$MOUNT/web' '$work/ctr'; [ -d /run/secrets ] || { mount -t tmpfs -o mode=0755,size=64k runsecrets-demo /run && mkdir /run/secrets; }; mount --bind -o ro '$work/ctr' /run/secrets 2>/dev/null || mount --bind '$work/ctr' /run/secrets; ls /run/secrets; setpriv --reuid 1000 --regid 1000 --clear-groups cat /run/secrets/db_password; echo"

step "writes are refused"
(echo x > "$MOUNT/web/db_password") 2>&1 | sed 's/^/  /' || true

step "rotate the secret in place (write aside, rename): the file changes atomically"
printf 'new-password-2' > "$work/tasks/db_password.txt.new" && mv "$work/tasks/db_password.txt.new" "$work/tasks/db_password.txt"
wait_for "[ \"\$(cat $MOUNT/web/db_password)\" = new-password-2 ]"
echo "  now: $(cat "$MOUNT/web/db_password")"

step "remove the manifest: the folder disappears and its bytes are zeroed"
rm "$work/tasks/web.yaml"
wait_for "[ ! -e $MOUNT/web ]"
ls -la "$MOUNT"

step "stop the agent (SIGTERM): clean unmount"
kill -TERM "$agent_pid"; wait "$agent_pid"; echo "  agent exit code: $?"; agent_pid=
if grep -q " $MOUNT " /proc/self/mountinfo; then echo "  mount left behind!" >&2; exit 1; else echo "  no mount left at $MOUNT"; fi

step "agent log (JSON lines, never secret bytes)"
sed 's/^/  /' "$work/agent.log"
if grep -q -e correct-horse -e new-password "$work/agent.log"; then echo "secret bytes in the log!" >&2; exit 1; fi
echo; echo "demo OK"
