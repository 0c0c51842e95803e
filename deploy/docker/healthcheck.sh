#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# varpulis-healthcheck: GET a health endpoint of the varpulis process in this container, with
# nothing but bash (the runtime image has no curl or wget).
#
#   varpulis-healthcheck [PATH]        PATH defaults to /health; /ready is the other useful one
#
# The port and address come from the command line of the varpulis process: --port/-p, --bind,
# and the subcommand's default port (server 9000, coordinator 9100). The process is the one in
# $VARPULIS_HEALTHCHECK_PID, or else the first process whose executable is named varpulis (the
# only one in a container, whether or not an init runs as PID 1).
#
# Exit 0 when the answer is 200, 1 otherwise (Docker's "unhealthy"). With --tls-cert the API
# speaks HTTPS, which bash cannot: the check is then only that the port accepts connections.
set -uo pipefail

path="${1:-/health}"

find_pid() {
    if [ -n "${VARPULIS_HEALTHCHECK_PID:-}" ]; then
        echo "$VARPULIS_HEALTHCHECK_PID"
        return 0
    fi
    local dir argv0
    for dir in /proc/[0-9]*; do
        [ -r "$dir/cmdline" ] || continue
        IFS= read -r -d '' argv0 < "$dir/cmdline" || continue
        if [ "${argv0##*/}" = "varpulis" ]; then
            echo "${dir#/proc/}"
            return 0
        fi
    done
    return 1
}

pid="$(find_pid)" || { echo "varpulis-healthcheck: no varpulis process" >&2; exit 1; }
args=()
while IFS= read -r -d '' arg; do args+=("$arg"); done < "/proc/$pid/cmdline" \
    || { echo "varpulis-healthcheck: cannot read the command line of process $pid" >&2; exit 1; }

command="" port="" bind="127.0.0.1" tls=0
for ((i = 1; i < ${#args[@]}; i++)); do
    a="${args[$i]}"
    next="${args[$((i + 1))]:-}"
    case "$a" in
        server | coordinator | run) [ -z "$command" ] && command="$a" ;;
        --port | -p) port="$next"; ((i++)) ;;
        --port=*) port="${a#--port=}" ;;
        --bind) bind="$next"; ((i++)) ;;
        --bind=*) bind="${a#--bind=}" ;;
        --tls-cert | --tls-cert=*) tls=1 ;;
    esac
done
[ -n "${VARPULIS_TLS_CERT:-}" ] && tls=1
if [ -z "$port" ]; then
    case "$command" in
        coordinator) port=9100 ;;
        server) port=9000 ;;
        *) echo "varpulis-healthcheck: '${command:-?}' serves no health endpoint" >&2; exit 1 ;;
    esac
fi
case "$bind" in 0.0.0.0 | "" ) host=127.0.0.1 ;; "::" | "[::]") host=::1 ;; *) host="$bind" ;; esac

# One request, bounded in time: a hung server must make the check fail, not hang it.
probe() {
    exec 3<>"/dev/tcp/$host/$port" || return 1
    [ "$tls" = 1 ] && return 0
    printf 'GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&3 || return 1
    local status
    IFS=$' \r' read -r _ status _ <&3 || return 1
    [ "$status" = 200 ] || { echo "varpulis-healthcheck: $path answered $status" >&2; return 1; }
}
export -f probe
export host port path tls
timeout "${VARPULIS_HEALTHCHECK_TIMEOUT:-5}" bash -c probe
