#!/usr/bin/env bash
# The Debian packages as an operator meets them: built by CPack from this build, installed
# with apt (dpkg plus their dependencies) into a clean Debian 12 root made by mmdebstrap
# from Debian's archive, then, inside it: sagad --version, the files and user the packages
# set up, a worker linked to the shared library, and examples/standalone built against
# /usr and run for one saga end to end.
# Usage: package_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "${1:?build dir}" && pwd)
root_dir=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/sagaflow-pkg-XXXXXX)
chroot_dir=$dir/root
cleanup() {
  for m in dev/pts dev proc; do mountpoint -q "$chroot_dir/$m" && umount -l "$chroot_dir/$m"; done
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== packages (cpack)"
mkdir -p "$dir/debs"
(cd "$dir/debs" && cpack --config "$bin/CPackConfig.cmake" >"$dir/cpack.log" 2>&1) || { cat "$dir/cpack.log"; exit 1; }
ls -l "$dir/debs"/*.deb | awk '{print "  " $5 " bytes  " $9}'

echo "== a clean Debian 12 root"
mmdebstrap --variant=apt --quiet bookworm "$chroot_dir" >"$dir/mmdebstrap.log" 2>&1 || { tail -20 "$dir/mmdebstrap.log"; exit 1; }
mount -t proc proc "$chroot_dir/proc"
mount --bind /dev "$chroot_dir/dev"
mount --bind /dev/pts "$chroot_dir/dev/pts"
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
mkdir -p "$chroot_dir/tmp/sagaflow"
cp "$dir/debs"/*.deb "$root_dir/tests/e2e/package_inside.sh" "$chroot_dir/tmp/sagaflow/"
cp -r "$root_dir/examples/standalone" "$chroot_dir/tmp/sagaflow/example"
chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash /tmp/sagaflow/package_inside.sh
