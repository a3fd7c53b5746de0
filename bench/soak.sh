#!/usr/bin/env bash
# Soak benchmark (issue 13 point 1; a measurement, not a test): the release
# mock and chatload running bench/soak.yaml with webhooks on, at a steady
# open-model RATE (lifecycles per second) for DURATION seconds. Every
# INTERVAL seconds it samples both processes' RSS (/proc/PID/status VmRSS)
# and the lifecycles completed so far (the mock's closeChat count, from
# /__mock/stats), prints them as a table and writes them to samples.csv.
# At the end, per process: the bytes per completed lifecycle (least-squares
# slope of RSS against completed lifecycles, over the samples after WARMUP
# seconds) and the RSS projected for one hour at the measured rate, and a
# plot of both RSS against completed lifecycles (soak.svg, bench/soak-plot.sh).
#
#   cargo build --release -p chatload --bin chatload -p chatload-mock --bin chatload-mock
#   bench/soak.sh                       # 10 minutes at 300/s
#   DURATION=120 RATE=200 bench/soak.sh # a shorter one
#
# WARMUP (default 120 s) should cover what fills up once and then stays
# flat: the tracker's grace window (60 s), the receiver's parked events
# (30 s), and the mock's caps (max_users / RATE seconds: 67 s at 300/s).
# CHATLOAD / CHATLOAD_MOCK pick other binaries; OUT the output directory.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CHATLOAD=${CHATLOAD:-$TARGET_DIR/release/chatload}
MOCK=${CHATLOAD_MOCK:-$TARGET_DIR/release/chatload-mock}
PORT=${PORT:-18482}
RATE=${RATE:-300}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-5}
WARMUP=${WARMUP:-120}
OUT=${OUT:-$(mktemp -d -t chatload-soak.XXXXXX)}
mkdir -p "$OUT"
for bin in "$CHATLOAD" "$MOCK"; do
  [[ -x $bin ]] || { echo "soak: $bin is not built (see the header of $0)" >&2; exit 2; }
done
ADMIN="http://127.0.0.1:$PORT/__mock"
"$MOCK" --port "$PORT" --config bench/mock.yaml >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
CHATLOAD_PID=
cleanup() {
  if [[ -n $CHATLOAD_PID ]]; then kill "$CHATLOAD_PID" 2>/dev/null || true; fi
  kill "$MOCK_PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "$ADMIN/health" >/dev/null && break; sleep 0.1; done
echo "soak: $(git rev-parse --short HEAD 2>/dev/null || echo '?'), RATE=$RATE/s DURATION=${DURATION}s" \
  "INTERVAL=${INTERVAL}s WARMUP=${WARMUP}s, output in $OUT"
"$CHATLOAD" run bench/soak.yaml --target "http://127.0.0.1:$PORT/v1" --rate "$RATE" \
  --vus 2000 --duration "${DURATION}s" --quiet --out "$OUT/soak.json" >"$OUT/chatload.log" 2>&1 &
CHATLOAD_PID=$!
rss_of() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
start=$(date +%s)
echo "seconds,lifecycles,chatload_rss_bytes,mock_rss_bytes" >"$OUT/samples.csv"
printf '%8s %12s %14s %14s\n' seconds lifecycles chatload_rss mock_rss
while kill -0 "$CHATLOAD_PID" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  c=$(rss_of "$CHATLOAD_PID"); m=$(rss_of "$MOCK_PID")
  done_so_far=$(curl -sf "$ADMIN/stats" | jq '.routes.closeChat // 0' 2>/dev/null || true)
  if [[ $c -gt 0 && -n $done_so_far ]]; then
    printf '%8d %12d %14d %14d\n' "$now" "$done_so_far" "$c" "$m"
    echo "$now,$done_so_far,$c,$m" >>"$OUT/samples.csv"
  fi
  sleep "$INTERVAL"
done
wait "$CHATLOAD_PID" || true
CHATLOAD_PID=
completed=$(jq '.totals.iterations - .totals.iteration_errors' "$OUT/soak.json" 2>/dev/null || echo '?')
echo "completed lifecycles: $completed (report $OUT/soak.json, samples $OUT/samples.csv)"
for column in 3 4; do
  name=$([[ $column == 3 ]] && echo chatload || echo mock)
  awk -F, -v col="$column" -v warm="$WARMUP" -v name="$name" '
    NR > 1 && $1 >= warm {
      if (n == 0) { t0 = $1; l0 = $2 }
      n++; x += $2; y += $col; xx += $2 * $2; xy += $2 * $col; t = $1; l = $2; last = $col
    }
    END {
      if (n < 3 || l <= l0 || t <= t0) { printf "%s: not enough samples after %d s\n", name, warm; exit }
      per = (n * xy - x * y) / (n * xx - x * x)   # bytes per completed lifecycle
      rate = (l - l0) / (t - t0)                   # lifecycles per second
      printf "%s: %.0f bytes per completed lifecycle (%d samples, %d lifecycles after %d s at %.0f/s); RSS %.1f MB now, %.1f MB projected after one hour\n",
        name, per, n, l - l0, warm, rate, last / 1e6, (last + per * rate * (3600 - t)) / 1e6
    }' "$OUT/samples.csv"
done
"$(dirname "$0")/soak-plot.sh" "$OUT/samples.csv" "$OUT/soak.svg" "$WARMUP"
