#!/usr/bin/env bash
# Builds small busybox OCI images OFFLINE (busybox-static + umoci) into the OCI layout LAYOUT, with tags:
#   1      one layer: /bin/busybox and its applets, /etc/passwd (root, user 1000), /etc/group, /tmp; CMD ["sh"]
#   nginx  the same layer plus one with /etc/nginx/conf.d; CMD ["sleep", "3600"] (shares the first layer)
# Used by test/helpers/images.ts and the demo. Usage: build-busybox.sh LAYOUT
set -euo pipefail
layout=${1:?usage: build-busybox.sh LAYOUT}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build-busybox.sh: $busybox missing (Debian package busybox-static)" >&2; exit 2; }
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
  echo "build-busybox.sh: $busybox is not a static busybox (install busybox-static)" >&2; exit 2
fi
rootless=(); [ "$(id -u)" = 0 ] || rootless=(--rootless)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
path_env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

umoci init --layout "$layout"
umoci new --image "$layout:empty"
umoci unpack "${rootless[@]}" --image "$layout:empty" "$work/b1"
r=$work/b1/rootfs
mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/home/user" "$r/proc" "$r/sys" "$r/dev" "$r/run"
chmod 1777 "$r/tmp"; chown 1000:1000 "$r/home/user"
cp "$busybox" "$r/bin/busybox"
for applet in $("$busybox" --list); do [ -e "$r/bin/$applet" ] || ln -s busybox "$r/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' > "$r/etc/group"
umoci repack --image "$layout:1" "$work/b1"
umoci config --image "$layout:1" --config.cmd sh --config.env "$path_env" --config.workingdir / \
  --config.label org.opencontainers.image.title=busybox-fixture

umoci unpack "${rootless[@]}" --image "$layout:1" "$work/b2"
mkdir -p "$work/b2/rootfs/etc/nginx/conf.d"
umoci repack --image "$layout:nginx" "$work/b2"
umoci config --image "$layout:nginx" --config.cmd sleep --config.cmd 3600

umoci rm --image "$layout:empty"
umoci gc --layout "$layout"
