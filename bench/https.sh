#!/usr/bin/env bash
# The HTTPS benchmark (issue 12, point 2): bench/run.sh against the TLS mock
# (chatload-mock --tls --tls-ca-out FILE), same phases, tools and table:
#   single route  GET /v1/settings: chatload vs oha, alternating rounds;
#   7-request lifecycle: chatload vs drill (oha sends one URL only);
# each tool's CPU per request and the mock's, and the req/s ratios.
# The think-heavy memory phase is left out (SKIP defaults to "think").
# HTTP_VERSION=1.1 (default) or 2 picks the protocol of chatload and oha.
# Loopback only, bounded: every tool runs under `timeout`.
#
# Usage: bench/https.sh           (from anywhere; env as for bench/run.sh)
set -euo pipefail
export SCHEME=https SKIP=${SKIP-think}
exec "$(dirname "$0")/run.sh" "$@"
