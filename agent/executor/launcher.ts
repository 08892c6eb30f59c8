// The launcher: a fixed bash script, run by `unshare --mount --propagation private`, that sets up the task's mounts
// inside its new mount namespace and then execs the task as its user (bash rather than sh for `exec {fd}>&-`,
// which closes descriptors above 9). Every path and word reaches it as a positional argument; nothing is ever
// interpolated into shell text. The sources of all binds are reached through fd 6, the task's secrets folder opened
// first, so that no later mount can change what a path like MOUNT/task/file resolves to.
//
// Protocol: $1 secrets folder ("" for none), $2 working folder, $3 uid, $4 gid, then operations (see LauncherOp),
// then "exec", then the task's "K=V" environment and argv (env -i takes the leading K=V words; argv[0] has no "=").
// fd 3 is a status pipe to the agent: "ok" just before the exec, or "error <text>" and exit 125. It is closed
// before the exec, as is every other descriptor above 2, so the task holds only fds 0-2.
//
// Overlay, to give a missing target file a mount point without touching the host: the parent P is opened (fd 7)
// before anything covers it; a small tmpfs is mounted on P inside the namespace and holds the overlay's upper and
// work folders (fd 8); an overlay (lower: the original P through fd 7) is mounted on top, so P shows exactly what it
// held plus the new empty file, which is created in the tmpfs only. Mounts that lived below P are hidden by the
// overlay (overlayfs does not cross them), so each is bound again from the original P (fd 7). The upper folder
// takes P's owner and mode, which the overlay's root shows. Paths through /proc/self/fd need no escaping in mount
// options and keep reaching what they opened even when it is covered later.
// (The script is a String.raw template: "$@{" stands for bash's "${", which a template would take for its own.)
export const LAUNCHER_SCRIPT = String.raw`
set -u
bound=()
# true when $1 is one of this task's bind targets or lies below one (then it is covered, or it is ours)
is_bound() {
  local b
  for b in "$@{bound[@]}"; do
    [ "$1" = "$b" ] && return 0
    case $1 in "$b"/*) return 0 ;; esac
  done
  return 1
}
fail() { printf 'error %s\n' "$*" >&3; exit 125; }
m() { ctx=$1; shift; out=$("$@" 2>&1) || fail "$ctx: $(printf '%s' "$out" | tr '\n' ' ')"; }
S=$1 DIR=$2 U=$3 G=$4
shift 4
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
  bind)
    src=/proc/self/fd/6
    [ "$1" = . ] || src="$src/$1"
    [ -e "$src" ] || fail "secret file \"$1\" is missing from the task's secrets folder"
    [ -e "$2" ] || fail "invalid mount target \"$2\": it does not exist"
    m "binding \"$2\" read-only" mount -c --bind -o ro,nosuid,nodev "$src" "$2"
    bound+=("$2")
    shift 2 ;;
  hide-all)
    # Every mount of this type that the namespace got from the host (read here, not when the plan was made, so
    # that one mounted meanwhile is not missed), except this task's own binds and what they cover.
    while IFS= read -r raw; do
      mp=$(printf '%b' "$raw")
      is_bound "$mp" && continue
      if ! out=$(umount -c -l "$mp" 2>&1) && mountpoint -q -- "$mp"; then
        fail "hiding the secrets mount \"$mp\" inside the task: $(printf '%s' "$out" | tr '\n' ' ')"
      fi
    done < <(findmnt -rn -t "$1" -o TARGET)
    shift ;;
  hide)
    # Another agent's mount may have gone since the plan was made: only one that is still there is an error.
    if ! out=$(umount -c -l "$1" 2>&1) && mountpoint -q -- "$1"; then
      fail "hiding the secrets mount \"$1\" inside the task: $(printf '%s' "$out" | tr '\n' ' ')"
    fi
    shift ;;
  exec)
    break ;;
  *)
    fail "launcher: unknown operation \"$op\"" ;;
  esac
done
cd -- "$DIR" 2>/dev/null || fail "working folder \"$DIR\" does not exist inside the task"
printf 'ok\n' >&3
# Close every descriptor above 2, the status pipe included: not only our own, but also any that the agent itself
# inherited without close-on-exec from whatever started it (libuv only guards the ones it opens).
cd /proc/self/fd || fail "cannot list the launcher's descriptors"
for n in *; do
  if [ "$n" -gt 2 ]; then { exec {n}>&-; } 2>/dev/null; fi
done
cd -- "$DIR" || exit 125
exec setpriv --reuid="$U" --regid="$G" --clear-groups -- env -i "$@"
`.replaceAll('$@{', '${');

export type LauncherOp =
  | { op: 'need-dir'; parent: string; target: string }
  | { op: 'overlay'; parent: string; submounts: string[] }
  | { op: 'touch'; path: string }
  | { op: 'mkdir'; path: string }
  /** source: path relative to the secrets folder, "." for the folder itself. */
  | { op: 'bind'; source: string; target: string }
  | { op: 'hide'; mount: string }
  /** Unmount, inside the namespace, every mount of this file system type but the task's own binds. */
  | { op: 'hide-all'; fstype: string };

export interface LaunchArgs {
  secretsDir: string;
  dir: string;
  uid: number;
  gid: number;
  ops: LauncherOp[];
  env: string[];
  argv: string[];
}

/** The positional arguments after `sh -c SCRIPT NAME`. */
export function launcherArgs(a: LaunchArgs): string[] {
  const out = [a.secretsDir, a.dir, String(a.uid), String(a.gid)];
  for (const o of a.ops) {
    switch (o.op) {
      case 'need-dir':
        out.push(o.op, o.parent, o.target);
        break;
      case 'overlay':
        out.push(o.op, o.parent, String(o.submounts.length), ...o.submounts);
        break;
      case 'touch':
      case 'mkdir':
        out.push(o.op, o.path);
        break;
      case 'bind':
        out.push(o.op, o.source, o.target);
        break;
      case 'hide':
        out.push(o.op, o.mount);
        break;
      case 'hide-all':
        out.push(o.op, o.fstype);
        break;
    }
  }
  out.push('exec', ...a.env, ...a.argv);
  return out;
}
