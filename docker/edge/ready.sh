#!/usr/bin/env bash
# The edge's health check (the stack's): healthy once HAProxy has an app task to send requests
# to, and from then on for as long as it runs. So a deploy ends only when every node's edge
# serves, while an app with no healthy task later gets 503s from its edges, not edges the
# swarm restarts.
set -euo pipefail
ready=/tmp/edge-ready
[[ -e $ready ]] && exit 0
exec 3<>/dev/tcp/127.0.0.1/8080
printf 'GET /edge/ready HTTP/1.0\r\n\r\n' >&3
read -r _ status _ <&3
[[ $status == 200 ]] && touch "$ready"
