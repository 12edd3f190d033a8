#!/usr/bin/env bash
# The README's run command: install what is missing, build, and serve on the embedded defaults
# (SQLite in ./data, the built-in echo model). Extra arguments go to `bro-ai serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh

./scripts/install-deps.sh
log "building (release)"
cmake --preset release -DBRO_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release --target bro-ai
log "starting bro-ai serve (Ctrl-C to stop)"
exec ./build/release/bro-ai serve --config config/app.yaml "$@"
