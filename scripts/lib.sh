#!/usr/bin/env bash
# Shared helpers for the project's scripts (sourced, not run).

# A free TCP port on loopback (random, checked with ss).
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! ss -Hltn "sport = :${port}" | grep -q .; then
      echo "${port}"
      return 0
    fi
  done
  echo "free_port: no free port found" >&2
  return 1
}

# Waits until a TCP port accepts connections (or the given process died).
wait_for_port() {
  local port=$1 pid=${2:-} tries=${3:-200}
  for _ in $(seq 1 "${tries}"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then return 0; fi
    if [[ -n "${pid}" ]] && ! kill -0 "${pid}" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
