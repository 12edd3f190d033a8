#!/usr/bin/env bash
# Installs what is missing on Debian 12 (bookworm) to build and run bro-ai.
# Usage: scripts/install-deps.sh [--test]   (--test adds the test-suite services and tools)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-program-options1.81-dev libboost-context1.81-dev
  libssl-dev libpq-dev libsqlite3-dev libyaml-cpp-dev libhiredis-dev
)
test_pkgs=(
  googletest libgtest-dev libgmock-dev
  postgresql-15 redis-server nginx-light haproxy prometheus
  sqlite3 nodejs npm wrk yamllint shellcheck gcovr clang clang-format clang-tidy
)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The node binary may come from outside Debian's packages (nodesource); accept any node >= 20.
if command -v node >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
