#!/usr/bin/env bash
# Start a Docker engine for the docker backend's tests, if none answers yet (idempotent).
#
# Runs dockerd in the background with settings that work inside a CI machine: no iptables, no
# default bridge (the backend runs its containers with --network none anyway), and the overlay2
# storage driver when the kernel and the backing filesystem allow it (a container starts in
# well under a second), else vfs (always works; each container start copies the whole image).
# $EAGEREXEC_DOCKER_STORAGE forces one driver. Log: $EAGEREXEC_DOCKERD_LOG (default
# /var/log/eagerexec-dockerd.log). Exit 0 once `docker info` answers, non-zero with one line on
# stderr if the engine cannot be started within $EAGEREXEC_DOCKERD_TIMEOUT s (60) per driver.
set -uo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "start-docker: dockerd not found (install Debian's docker.io)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "start-docker: no Docker engine answers and starting one needs root" >&2
    exit 1
fi

log=${EAGEREXEC_DOCKERD_LOG:-/var/log/eagerexec-dockerd.log}
timeout=${EAGEREXEC_DOCKERD_TIMEOUT:-60}
mkdir -p "$(dirname "$log")" 2>/dev/null || log=/tmp/eagerexec-dockerd.log

# A stale pid file from an engine that died keeps a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi

# try_driver DRIVER: start dockerd with DRIVER; 0 once it answers, 1 if it exits, 2 on timeout.
try_driver() {
    echo "start-docker: starting dockerd (storage driver $1)" >>"$log"
    nohup setsid dockerd --storage-driver="$1" --iptables=false --bridge=none \
        >>"$log" 2>&1 </dev/null &
    local pid=$!
    for _ in $(seq 1 "$((timeout * 2))"); do
        if docker info >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f /var/run/docker.pid
            return 1
        fi
        sleep 0.5
    done
    return 2
}

if [ -n "${EAGEREXEC_DOCKER_STORAGE:-}" ]; then
    drivers=("$EAGEREXEC_DOCKER_STORAGE")
elif grep -qw overlay /proc/filesystems 2>/dev/null; then
    drivers=(overlay2 vfs)
else
    drivers=(vfs)
fi
for driver in "${drivers[@]}"; do
    try_driver "$driver"
    case $? in
        0) exit 0 ;;
        2) echo "start-docker: dockerd did not answer within ${timeout}s (log: $log)" >&2
           exit 1 ;;
    esac
done
echo "start-docker: dockerd exited early; last log line: $(tail -n 1 "$log" 2>/dev/null)" >&2
exit 1
