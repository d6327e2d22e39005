#!/usr/bin/env bash
# Build the offline Python image the docker backend's tests and benchmark use (idempotent).
#
# No image registry is reachable from CI, so the image is made from Debian packages:
# debootstrap a minimal bookworm root with python3 (3.11), trim docs and caches, and
# `docker import` it. The root tarball is cached under $EAGEREXEC_IMAGE_CACHE
# (/var/cache/eagerexec) so a rebuild after an engine reset only re-imports it.
#
# Image name: $EAGEREXEC_DOCKER_IMAGE (default eagerexec/python:bookworm).
# Extra Debian packages: $EAGEREXEC_IMAGE_PACKAGES (comma-separated, default none), e.g.
# python3-matplotlib; the cache file name includes them.
set -euo pipefail

image=${EAGEREXEC_DOCKER_IMAGE:-eagerexec/python:bookworm}
cache=${EAGEREXEC_IMAGE_CACHE:-/var/cache/eagerexec}
extra=${EAGEREXEC_IMAGE_PACKAGES:-}
mirror=${EAGEREXEC_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if ! docker info >/dev/null 2>&1; then
    echo "build-docker-image: no Docker engine answers (run scripts/start-docker.sh)" >&2
    exit 1
fi
if docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi

include=python3
if [ -n "$extra" ]; then include="python3,$extra"; fi
tag=$(printf '%s' "$include" | tr -c 'A-Za-z0-9.\n' '_')
tarball="$cache/rootfs-bookworm-$tag.tar"

if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
        echo "build-docker-image: debootstrap not found (install Debian's debootstrap)" >&2
        exit 1
    }
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/root.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    echo "build-docker-image: debootstrap bookworm ($include) into $root ..." >&2
    if ! debootstrap --variant=minbase --include="$include" bookworm "$root" "$mirror" \
            >"$cache/debootstrap.log" 2>&1; then
        echo "build-docker-image: debootstrap failed; see $cache/debootstrap.log" >&2
        exit 1
    fi
    # Trim what a code-running sandbox never reads: package caches, docs, man pages, locales.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/* "$root"/var/log/*
    tar -C "$root" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$root"
    trap - EXIT
fi

docker import \
    -c 'CMD ["python3"]' -c 'ENV LANG=C.UTF-8' \
    -m "eagerexec offline python image (debootstrap bookworm: $include)" \
    "$tarball" "$image" >/dev/null
echo "build-docker-image: built $image" >&2
