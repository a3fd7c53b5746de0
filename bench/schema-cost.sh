#!/usr/bin/env bash
# Cost of the runtime schema checks (issue 4): the same chatload runs with
# --schema all and --schema off against one bundled-mock process, alternating,
# reporting requests/s and chatload's own CPU per request. Loopback only,
# bounded (about 1 minute).
#   cargo build --release -p chatload --bin chatload -p chatload-mock --bin chatload-mock
#   bench/schema-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CHATLOAD=${CHATLOAD:-$TARGET_DIR/release/chatload}
MOCK=${CHATLOAD_MOCK:-$TARGET_DIR/release/chatload-mock}
PORT=${PORT:-18481}
OUT=$(mktemp -d -t chatload-schema.XXXXXX)
"$MOCK" --port "$PORT" --config bench/mock.yaml >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
trap 'kill $MOCK_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/__mock/health" >/dev/null && break; sleep 0.1; done
BASE="http://127.0.0.1:$PORT/v1"
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf '%-13s %-7s %10s %10s %16s\n' scenario schema requests req/s "chatload µs/req"
for round in 1 2; do
  for scenario in single-route lifecycle-7; do
    if [[ $scenario == single-route ]]; then extra=(--vus 50 --duration 5s); else extra=(--vus 50 --iterations 10000); fi
    modes=(all off); ((round % 2)) || modes=(off all)
    for mode in "${modes[@]}"; do
      json="$OUT/$scenario-$mode-$round.json"
      /usr/bin/time -f '%U %S' -o "$OUT/time" "$CHATLOAD" run "bench/$scenario.yaml" --target "$BASE" \
        "${extra[@]}" --schema "$mode" --quiet --out "$json" >/dev/null || true
      read -r user sys <"$OUT/time"
      req=$(jq '.totals.requests' "$json"); secs=$(jq '.meta.duration_secs' "$json")
      awk -v s="$scenario" -v m="$mode" -v r="$req" -v d="$secs" -v u="$user" -v y="$sys" \
        'BEGIN { printf "%-13s %-7s %10d %10.0f %16.1f\n", s, m, r, r / d, (u + y) * 1e6 / r }'
    done
  done
done
