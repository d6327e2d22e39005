#!/usr/bin/env bash
# Start a Docker engine for the docker backend's tests, if none answers yet (idempotent).
#
# Runs dockerd in the background with settings that work inside an unprivileged-looking CI
# container: vfs storage (no overlayfs needed), no iptables, no default bridge (the backend
# runs its containers with --network none anyway). Log: $EAGEREXEC_DOCKERD_LOG
# (default /var/log/eagerexec-dockerd.log). Exit 0 once `docker info` answers, non-zero with
# one line on stderr if the engine cannot be started within $EAGEREXEC_DOCKERD_TIMEOUT s (60).
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

nohup setsid dockerd --storage-driver=vfs --iptables=false --bridge=none \
    >>"$log" 2>&1 </dev/null &
pid=$!

for _ in $(seq 1 "$((timeout * 2))"); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start-docker: dockerd exited early; last log line: $(tail -n 1 "$log" 2>/dev/null)" >&2
        exit 1
    fi
    sleep 0.5
done
echo "start-docker: dockerd did not answer within ${timeout}s (log: $log)" >&2
exit 1
