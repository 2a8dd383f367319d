#!/usr/bin/env bash
# `npm run image`: builds the Zeroplane runtime image (runtime/Dockerfile) with docker or podman.
#
# Usage: runtime/image/build.sh
# Env:   IMAGE            image name and tag (default zeroplane:<package.json version>)
#        CONTAINER_ENGINE docker or podman (default: docker if its engine answers, else podman)
#        IMAGE_SOURCE     the org.opencontainers.image.source label (default: the git remote "origin")
#        NODE_IMAGE       the base image (default node:20-bookworm-slim)
#
# With podman and no such base image locally, it builds a stand-in for node:20-bookworm-slim from
# Debian's archive and the npm registry (make-node-base.sh), so no container registry is needed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
# shellcheck source=engine.sh
source "$here/engine.sh"

version=$(node -p 'require("./package.json").version')
IMAGE=${IMAGE:-zeroplane:$version}
NODE_IMAGE=${NODE_IMAGE:-node:20-bookworm-slim}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_url=${IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}
t0=$SECONDS

[ -f runtime/cli/main.ts ] || image_die "runtime/cli/main.ts is missing: the image bundles the zeroplane CLI from it."

build_args=(
  --build-arg "NODE_IMAGE=$NODE_IMAGE"
  --build-arg "VERSION=$version"
  --build-arg "REVISION=$revision"
  --build-arg "SOURCE=$source_url"
  # The registry npm uses on this machine (a mirror, if one is configured), for `npm ci` in the build.
  --build-arg "NPM_REGISTRY=$(npm config get registry 2>/dev/null || true)"
)
# Where egress TLS is re-signed, npm on this machine trusts an extra CA bundle: lend it to the build.
npm_ca=$(npm config get cafile 2>/dev/null || true)
[ -n "$npm_ca" ] && [ "$npm_ca" != null ] || npm_ca=${NODE_EXTRA_CA_CERTS:-}
[ -n "$npm_ca" ] && [ -r "$npm_ca" ] && build_args+=(--secret "id=npm_ca,src=$npm_ca")

if [ "$CONTAINER_ENGINE" = podman ]; then
  if ! podman image exists "$NODE_IMAGE"; then
    if [ "$NODE_IMAGE" = node:20-bookworm-slim ] && [ "$(id -u)" = 0 ] && command -v debootstrap >/dev/null; then
      echo "image: $NODE_IMAGE is not present locally; building a stand-in (Debian archive + npm registry)"
      "$here/make-node-base.sh" localhost/zeroplane-node-base:20
      # A short name: podman resolves it from local storage, so `FROM node:20-bookworm-slim` needs no registry.
      podman tag localhost/zeroplane-node-base:20 "$NODE_IMAGE"
    else
      echo "image: $NODE_IMAGE is not present locally; podman will try to pull it"
    fi
  fi
  podman image exists "$NODE_IMAGE" && build_args+=(--pull=never)
  # Host networking: sandboxes often lack the network helpers a build container would otherwise need.
  build_args+=(--network host)
fi

echo "image: building $IMAGE with $CONTAINER_ENGINE (version $version, revision $revision)"
"$CONTAINER_ENGINE" build -f runtime/Dockerfile -t "$IMAGE" "${build_args[@]}" .

size=$("$CONTAINER_ENGINE" image inspect "$IMAGE" --format '{{.Size}}')
echo "image: built $IMAGE in $((SECONDS - t0)) s; size $((size / 1000000)) MB uncompressed ($size bytes)"
