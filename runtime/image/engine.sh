# Sourced by build.sh and smoke.sh: chooses the container engine and applies podman's sandbox settings.
# Sets CONTAINER_ENGINE (docker or podman; honoured if already set) and, for podman, CONTAINERS_CONF.
# shellcheck shell=bash

image_die() {
  echo "image: $*" >&2
  exit 1
}

# Docker only when its engine answers: on some machines `docker` is just a client with no daemon.
if [ -z "${CONTAINER_ENGINE:-}" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    CONTAINER_ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    CONTAINER_ENGINE=podman
  else
    image_die "neither a running Docker engine nor podman is available. Fix: install podman (apt-get install -y podman runc uidmap) or start Docker."
  fi
fi
case "$CONTAINER_ENGINE" in
  docker | podman) command -v "$CONTAINER_ENGINE" >/dev/null 2>&1 || image_die "CONTAINER_ENGINE=$CONTAINER_ENGINE is not installed." ;;
  *) image_die "CONTAINER_ENGINE=$CONTAINER_ENGINE is not supported. Fix: set it to docker or podman." ;;
esac
export CONTAINER_ENGINE

# Podman: use the project's containers.conf (runc, cgroupfs, ulimits at the host's hard limits) unless
# the caller chose one, and only where runc exists (elsewhere podman's own defaults are the better bet).
if [ "$CONTAINER_ENGINE" = podman ] && [ -z "${CONTAINERS_CONF:-}" ] && command -v runc >/dev/null 2>&1; then
  image_conf_dir=${TMPDIR:-/tmp}/zeroplane-podman-$(id -u)
  mkdir -p "$image_conf_dir"
  # Lowering a limit is always allowed; raising one above the hard limit is not.
  image_limit() { # hard limit, capped at $1
    local hard=$2
    if [ "$hard" = unlimited ] || [ "$hard" -gt "$1" ]; then echo "$1"; else echo "$hard"; fi
  }
  image_nofile=$(image_limit 1048576 "$(ulimit -Hn)")
  image_nproc=$(image_limit 32768 "$(ulimit -Hu)")
  sed "s/^default_ulimits = .*/default_ulimits = [\"nofile=$image_nofile:$image_nofile\", \"nproc=$image_nproc:$image_nproc\"]/" \
    "$(dirname "${BASH_SOURCE[0]}")/containers.conf" >"$image_conf_dir/containers.conf"
  export CONTAINERS_CONF=$image_conf_dir/containers.conf
fi

# Fail early, saying why, when the engine cannot run here (no daemon, no runtime, cgroup trouble, ...).
if ! image_engine_error=$("$CONTAINER_ENGINE" info 2>&1 >/dev/null); then
  image_die "$CONTAINER_ENGINE cannot run on this machine: $(echo "$image_engine_error" | tail -3)
Fix: for podman, install podman runc uidmap iptables (Debian: apt-get install -y podman runc uidmap iptables) and run as root or with subuids set up; for docker, start the engine. CONTAINERS_CONF=${CONTAINERS_CONF:-unset}."
fi
