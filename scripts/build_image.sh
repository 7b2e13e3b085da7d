#!/usr/bin/env bash
# Builds the cniguard image with what this machine can reach, then smoke-runs it.
#   - a Docker daemon that answers `docker info`: docker; otherwise Debian's buildah with chroot
#     isolation (inside a container crun/runc cannot set up cgroups or rlimits; chroot needs neither);
#   - the base image: BASE if given, else a Debian bookworm rootfs made by debootstrap from the
#     Debian mirror and imported as localhost/cniguard-base:bookworm (made once, then reused), so no
#     image registry is needed;
#   - smoke: `cniguard demo` as the image's non-root user (docker: also on a read-only root
#     filesystem), and a check that the final image holds no compiler and no pip.
# Usage: scripts/build_image.sh [IMAGE]   (default cniguard:<version from pyproject.toml>)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
IMAGE=${1:-cniguard:${VERSION}}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-venv,ca-certificates

if docker info >/dev/null 2>&1; then
  tool=docker
elif command -v buildah >/dev/null && command -v podman >/dev/null; then
  tool=buildah
else
  echo "build_image: neither a Docker daemon nor buildah; on Debian: apt-get install buildah podman" >&2
  exit 2
fi
images=docker  # image import and inspect: podman, on the storage buildah shares
[ "$tool" = docker ] || images=podman

if [ -z "${BASE:-}" ]; then
  BASE=localhost/cniguard-base:bookworm
  if ! "$images" image inspect "$BASE" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { echo "build_image: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
    rootfs=$(mktemp -d)
    trap 'rm -rf --one-file-system "$rootfs"' EXIT  # never into a proc/sys mount left behind
    echo "build_image: debootstrap bookworm ($BASE_PACKAGES) from $MIRROR"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$MIRROR" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
    tar --numeric-owner -C "$rootfs" -c . | "$images" import - "$BASE" >/dev/null
  fi
fi

start=$SECONDS
echo "build_image: $tool build $IMAGE from $BASE"
build_args=(--network host --build-arg "BASE=$BASE" --build-arg "VERSION=$VERSION" -t "$IMAGE")
# this machine's CA bundle (it may hold a TLS-inspecting proxy's CA) for the builder's pip only
CA_BUNDLE=${CA_BUNDLE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}
[ -s "$CA_BUNDLE" ] && build_args+=(--secret "id=ca,src=$CA_BUNDLE")
build_args+=(.)
if [ "$tool" = docker ]; then
  DOCKER_BUILDKIT=1 docker build "${build_args[@]}"
else
  buildah bud --isolation chroot "${build_args[@]}"
fi
built=$((SECONDS - start))

# Runs the image's entrypoint with ARGS, or a shell script with `sh -c SCRIPT` (docker: without
# network; chroot isolation cannot take the network away, and the demo needs none).
run() {
  if [ "$tool" = docker ]; then
    if [ "$1" = sh ]; then docker run --rm --network none --entrypoint /bin/sh "$IMAGE" "${@:2}"
    else docker run --rm --read-only --tmpfs /tmp --network none "$IMAGE" "$@"; fi
  else
    local ctr status=0
    ctr=$(buildah from --quiet "$IMAGE")
    if [ "$1" = sh ]; then buildah run --isolation chroot "$ctr" -- /bin/sh "${@:2}" || status=$?
    else buildah run --isolation chroot "$ctr" -- cniguard "$@" || status=$?; fi
    buildah rm "$ctr" >/dev/null
    return $status
  fi
}

echo "build_image: smoke run"
run demo >/dev/null
run --version
run sh -c '
  [ "$(id -u)" = 10001 ] || { echo "runs as uid $(id -u), not 10001" >&2; exit 1; }
  for tool in gcc cc make pip pip3 /opt/cniguard/bin/pip; do
    if command -v "$tool" >/dev/null; then echo "build tool in the final image: $tool" >&2; exit 1; fi
  done'
size=$("$images" image inspect --format '{{.Size}}' "$IMAGE")
label=$("$images" image inspect --format '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
echo "build_image: $IMAGE version label $label, built in ${built}s, $((size / 1000000)) MB"
