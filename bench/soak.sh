#!/usr/bin/env bash
# Soak benchmark (issue 13 point 1; a measurement, not a test): chatload runs
# bench/soak.yaml at a steady rate with webhooks on against one bundled-mock
# process; both processes' RSS is sampled every INTERVAL seconds. Prints the
# samples, then per process the RSS growth per completed lifecycle (least-
# squares slope of RSS over time / lifecycles per second, after the first
# WARMUP seconds) and the RSS projected for one hour at that rate.
#   cargo build --release -p chatload --bin chatload -p chatload-mock --bin chatload-mock
#   DURATION=600 RATE=300 bench/soak.sh
# CHATLOAD / CHATLOAD_MOCK pick other binaries (e.g. target/debug/...).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CHATLOAD=${CHATLOAD:-$TARGET_DIR/release/chatload}
MOCK=${CHATLOAD_MOCK:-$TARGET_DIR/release/chatload-mock}
PORT=${PORT:-18482}
RATE=${RATE:-300}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-5}
WARMUP=${WARMUP:-20}
OUT=$(mktemp -d -t chatload-soak.XXXXXX)
"$MOCK" --port "$PORT" --config bench/mock.yaml >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
CHATLOAD_PID=
cleanup() {
  [[ -n $CHATLOAD_PID ]] && kill "$CHATLOAD_PID" 2>/dev/null || true
  kill "$MOCK_PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/__mock/health" >/dev/null && break; sleep 0.1; done
"$CHATLOAD" run bench/soak.yaml --target "http://127.0.0.1:$PORT/v1" --rate "$RATE" \
  --vus 2000 --duration "${DURATION}s" --quiet --out "$OUT/soak.json" >"$OUT/chatload.log" 2>&1 &
CHATLOAD_PID=$!
rss_of() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
start=$(date +%s)
printf '%8s %14s %14s\n' seconds chatload_rss mock_rss | tee "$OUT/samples"
while kill -0 "$CHATLOAD_PID" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  c=$(rss_of "$CHATLOAD_PID"); m=$(rss_of "$MOCK_PID")
  [[ $c -gt 0 ]] && printf '%8d %14d %14d\n' "$now" "$c" "$m" | tee -a "$OUT/samples"
  sleep "$INTERVAL"
done
wait "$CHATLOAD_PID" || true
CHATLOAD_PID=
completed=$(jq '.totals.iterations - .totals.iteration_errors' "$OUT/soak.json" 2>/dev/null || echo 0)
secs=$(jq '.meta.duration_secs' "$OUT/soak.json" 2>/dev/null || echo "$DURATION")
echo "completed lifecycles: $completed in $secs s (report: $OUT/soak.json)"
for column in 2 3; do
  name=$([[ $column == 2 ]] && echo chatload || echo mock)
  awk -v col="$column" -v warm="$WARMUP" -v done="$completed" -v secs="$secs" -v name="$name" '
    NR > 1 && $1 >= warm { n++; x += $1; y += $col; xx += $1 * $1; xy += $1 * $col; last = $col }
    END {
      if (n < 2 || done <= 0 || secs <= 0) { printf "%s: not enough samples\n", name; exit }
      slope = (n * xy - x * y) / (n * xx - x * x)        # bytes per second
      per = slope / (done / secs)                         # bytes per completed lifecycle
      printf "%s: %.0f bytes per completed lifecycle; RSS %.1f MB now, %.1f MB projected after one hour\n",
        name, per, last / 1e6, (last + slope * (3600 - secs)) / 1e6
    }' "$OUT/samples"
done
