#!/bin/bash
# The task launcher, run as root by `unshare --mount --propagation private --pid --fork --uts --ipc --kill-child`:
# it is PID 1 of the task's new PID namespace. It sets up the task's view (its own /proc, a read-only /sys, Docker's
# masked and read-only paths, the task's secret binds, the other secrets mounts hidden), then starts the task as its
# user with Docker's capability set (none for other users) and no_new_privs, and stays as the task's init: it
# forwards stop signals to the task, reaps orphans and exits with the task's status (128+N when signal N ended it).
# When it exits the kernel kills whatever is left in the namespace. (Bash rather than sh for `exec {fd}>&-`, which
# closes descriptors above 9.) Every path and word reaches it as a positional argument; nothing is interpolated
# into shell text. The sources of all binds are reached through fd 6, the task's secrets folder opened first, or fd 5,
# its files folder (op "files", first too), so that no later mount can change what a path like MOUNT/task/file
# resolves to.
#
# Protocol: $1 secrets folder ("" for none), $2 working folder, $3 uid, $4 gid, $5 setpriv's --bounding-set value,
# then operations (see LauncherOp in launcher.ts), then "exec", then the task's "K=V" environment and argv (env -i
# takes the leading K=V words; argv[0] has no "="). fd 3 is a status pipe to the agent: "ok PID" (the task's pid as
# the host sees it) just before the task's exec, or "error <text>" and exit 125. The task holds only fds 0-2.
#
# Overlay, to give a missing target file a mount point without touching the host: the parent P is opened (fd 7)
# before anything covers it; a small tmpfs is mounted on P inside the namespace and holds the overlay's upper and
# work folders (fd 8); an overlay (lower: the original P through fd 7) is mounted on top, so P shows exactly what it
# held plus the new empty file, which is created in the tmpfs only. Mounts that lived below P are hidden by the
# overlay (overlayfs does not cross them), so each is bound again from the original P (fd 7). The upper folder
# takes P's owner and mode, which the overlay's root shows. Paths through /proc/self/fd need no escaping in mount
# options and keep reaching what they opened even when it is covered later.
set -u
bound=()
sources=()
# true when $1 is one of this task's bind targets or lies below one (then it is covered, or it is ours)
is_bound() {
  local b
  for b in "${bound[@]}"; do
    [ "$1" = "$b" ] && return 0
    case $1 in "$b"/*) return 0 ;; esac
  done
  return 1
}
fail() { printf 'error %s\n' "$*" >&3; exit 125; }
# Unmounts what is at $1. Only a FUSE file system still showing there is an error: another agent's mount may have
# gone since the plan was made, and one that an overlay covers (listed, but not at the path any more) is out of reach.
hide() {
  local out
  if ! out=$(umount -c -l "$1" 2>&1) && [[ "$(stat -f -c %T -- "$1" 2>/dev/null)" == fuse* ]]; then
    fail "hiding the secrets mount \"$1\" inside the task: $(printf '%s' "$out" | tr '\n' ' ')"
  fi
}
m() { ctx=$1; shift; out=$("$@" 2>&1) || fail "$ctx: $(printf '%s' "$out" | tr '\n' ' ')"; }
# As m, without capturing the command's complaint (one process less, for the many fixed mounts of every task).
q() { ctx=$1; shift; "$@" 2>/dev/null || fail "$ctx (mount failed)"; }
S=$1 DIR=$2 U=$3 G=$4 CAPS=$5
shift 5
# The host's /proc, kept open only to learn the task's host pid (below); then the namespace's own /proc, so that
# the task sees its own processes only and /proc/OTHER/root of no other process.
exec 9</proc
m "mounting the task's /proc" mount -t proc -o nosuid,noexec,nodev proc /proc
if [ -n "$S" ]; then
  [ -d "$S" ] || fail "the task's secrets folder \"$S\" is missing"
  exec 6<"$S"
fi
while [ $# -gt 0 ]; do
  op=$1
  shift
  case $op in
  need-dir)
    [ -d "$1" ] || fail "invalid mount target \"$2\": parent folder \"$1\" does not exist"
    shift 2 ;;
  overlay)
    P=$1 k=$2
    shift 2
    [ -d "$P" ] || fail "invalid mount target in \"$P\": parent folder \"$P\" does not exist"
    exec 7<"$P"
    m "mounting a tmpfs over \"$P\" inside the task" mount -c -t tmpfs -o mode=0700,size=64k rs-task-upper "$P"
    m "preparing the overlay of \"$P\"" mkdir "$P/u" "$P/w"
    m "preparing the overlay of \"$P\"" chown --reference=/proc/self/fd/7 "$P/u"
    m "preparing the overlay of \"$P\"" chmod --reference=/proc/self/fd/7 "$P/u"
    exec 8<"$P"
    m "mounting an overlay on \"$P\" inside the task" mount -c -t overlay \
      -o lowerdir=/proc/self/fd/7,upperdir=/proc/self/fd/8/u,workdir=/proc/self/fd/8/w rs-task-overlay "$P"
    while [ "$k" -gt 0 ]; do
      m "binding \"$P/$1\" again over the overlay" mount -c --rbind "/proc/self/fd/7/$1" "$P/$1"
      shift
      k=$((k - 1))
    done
    exec 7<&- 8<&- ;;
  touch)
    m "creating the mount point \"$1\" inside the task" touch -- "$1"
    shift ;;
  mkdir)
    m "creating the mount point \"$1\" inside the task" mkdir -- "$1"
    shift ;;
  files)
    # The task's files folder (absolute targets, configs: agent/worker/placement.ts), beside its secrets folder.
    [ -d "$1" ] || fail "the task's files folder \"$1\" is missing"
    exec 5<"$1"
    shift ;;
  bind-file)
    src=/proc/self/fd/5/$1
    [ -e "$src" ] || fail "file \"$1\" is missing from the task's files folder"
    [ -e "$2" ] || fail "invalid mount target \"$2\": it does not exist"
    m "binding \"$2\" read-only" mount -c --bind -o ro,nosuid,nodev "$src" "$2"
    bound+=("$2")
    sources+=("$src")
    shift 2 ;;
  bind)
    src=/proc/self/fd/6
    [ "$1" = . ] || src="$src/$1"
    [ -e "$src" ] || fail "secret file \"$1\" is missing from the task's secrets folder"
    [ -e "$2" ] || fail "invalid mount target \"$2\": it does not exist"
    m "binding \"$2\" read-only" mount -c --bind -o ro,nosuid,nodev "$src" "$2"
    bound+=("$2")
    sources+=("$src")
    shift 2 ;;
  hide-all)
    # Every mount of this type that the namespace got from the host (read here, not when the plan was made, so
    # that one mounted meanwhile is not missed), except the one holding the task's folder ($2) and this task's
    # own binds and what they cover.
    # One umount for all of them, and no process per mount: with 20 agents on a host each task start ran 40
    # processes here. A failure is judged per mount afterwards, as hide does.
    targets=()
    while IFS= read -r raw; do
      printf -v mp '%b' "$raw"
      [ "$mp" = "$2" ] && continue
      is_bound "$mp" && continue
      targets+=("$mp")
    done < <(findmnt -rn -t "$1" -o TARGET)
    if [ "${#targets[@]}" -gt 0 ] && ! out=$(umount -c -l -- "${targets[@]}" 2>&1); then
      while IFS= read -r raw; do
        printf -v mp '%b' "$raw"
        for t in "${targets[@]}"; do
          if [ "$t" = "$mp" ] && [[ "$(stat -f -c %T -- "$mp" 2>/dev/null)" == fuse* ]]; then
            fail "hiding the secrets mount \"$mp\" inside the task: $(printf '%s' "$out" | tr '\n' ' ')"
          fi
        done
      done < <(findmnt -rn -t "$1" -o TARGET)
    fi
    shift 2 ;;
  hide)
    hide "$1"
    shift ;;
  sysfs)
    # /sys read-only (as Docker's), bound without what the host mounted below it (fusectl, whose abort files would
    # let a root task cut every task's secrets off, cgroups, debugfs). Same network namespace: the same sysfs.
    q "making /sys read-only inside the task" mount --bind -o ro,nosuid,noexec,nodev /sys /sys ;;
  mask)
    # Docker's masked paths: a folder gets an empty read-only tmpfs, a file /dev/null; a missing one is skipped.
    if [ -d "$1" ]; then
      q "masking \"$1\" inside the task" mount -t tmpfs -o ro,nosuid,nodev,noexec,size=0 rs-masked "$1"
    elif [ -e "$1" ]; then
      q "masking \"$1\" inside the task" mount --bind /dev/null "$1"
    fi
    shift ;;
  readonly)
    if [ -e "$1" ]; then q "making \"$1\" read-only inside the task" mount --rbind -o ro,nosuid,nodev,noexec "$1" "$1"; fi
    shift ;;
  hostname)
    # Its own UTS namespace: the host's name is untouched. Before /proc/sys is made read-only.
    printf '%s' "$1" > /proc/sys/kernel/hostname 2>/dev/null || fail "setting the task's hostname \"$1\""
    shift ;;
  exec)
    break ;;
  *)
    fail "launcher: unknown operation \"$op\"" ;;
  esac
done
# Read back: a bind that a later mount covers, or an unmount took along, is not what the task would see.
for i in "${!bound[@]}"; do
  [ "$(stat -L -c %d:%i -- "${bound[$i]}" 2>/dev/null)" = "$(stat -L -c %d:%i -- "${sources[$i]}")" ] ||
    fail "invalid mount target \"${bound[$i]}\": the secret bound there is not visible to the task (another mount covers it)"
done
cd -- "$DIR" 2>/dev/null || fail "working folder \"$DIR\" does not exist inside the task"
(
  # The task's host pid, read through the host's /proc (fd 9): "self" there is this process as the host sees it.
  read -r hostpid _ </proc/self/fd/9/self/stat || fail "cannot read the task's pid"
  printf 'ok %s\n' "$hostpid" >&3
  # Close every descriptor above 2, the status pipe included: not only our own, but also any that the agent itself
  # inherited without close-on-exec from whatever started it (libuv only guards the ones it opens).
  cd /proc/self/fd || exit 125
  for n in *; do
    if [ "$n" -gt 2 ]; then { exec {n}>&-; } 2>/dev/null; fi
  done
  cd -- "$DIR" || exit 125
  # env resets every signal to its default: bash leaves SIGINT and SIGQUIT ignored in a background job.
  exec setpriv --reuid="$U" --regid="$G" --clear-groups --no-new-privs --inh-caps=-all --bounding-set="$CAPS" \
    -- env -i --default-signal "$@"
) &
task=$!
exec 3>&- 5<&- 6<&- 9<&-
for sig in TERM INT HUP QUIT USR1 USR2; do
  trap 'kill -'"$sig"' "$task" 2>/dev/null' "$sig"
done
# wait returns early when a forwarded signal arrives; the task's own status is the one once it is gone.
while :; do
  wait "$task"
  rc=$?
  kill -0 "$task" 2>/dev/null || break
done
wait "$task" 2>/dev/null
again=$?
[ "$again" -ne 127 ] && rc=$again
exit "$rc"
