#!/bin/sh
# busybox httpd as PID 1 ignores SIGTERM (docker stop would wait 10 s): run it as a child
# and stop it from a trap instead.
set -eu
mkdir -p /tmp/www
hostname >/tmp/www/index.html
httpd -f -p "${PORT:-80}" -h /tmp/www &
httpd_pid=$!
trap 'kill "$httpd_pid" 2>/dev/null; exit 0' TERM INT
echo "serving hostname $(hostname) on port ${PORT:-80}"
wait "$httpd_pid"
