#!/usr/bin/env bash
# A/B of two chatload builds (a regression check, e.g. issue 11's "no
# regression beyond noise"): the same bench/run.sh workloads run with build A
# and build B against the same bundled mock binary, alternating A,B / B,A
# each round, so both builds see the same mock and the same box load; each
# run gets a freshly started mock (no state left by the run before). Prints per
# run the requests/s (lifecycles/s for the lifecycle), chatload's own CPU per
# request, the mock's CPU per request and peak RSS, then the median B/A
# ratios. Loopback only, bounded (every run under `timeout`).
#
# Usage: bench/ab.sh A_BINARY B_BINARY     (from anywhere)
# Env:   CHATLOAD_MOCK (default $CARGO_TARGET_DIR/release/chatload-mock)
#        PORT (18483) CONNS (50) DURATION (5) LC_CONC (50) LC_ITERS (20000)
#        ROUNDS (4: even, so each build runs first as often) THINK_VUS (10000) THINK_DURATION (20s, 0 to skip)
#        SCHEME (http; https trusts the mock's generated CA) OUT (a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { sed -n '2,15p' "$0" >&2; exit 2; }
A=$1 B=$2
MOCK=${CHATLOAD_MOCK:-${CARGO_TARGET_DIR:-target}/release/chatload-mock}
PORT=${PORT:-18483} CONNS=${CONNS:-50} DURATION=${DURATION:-5}
LC_CONC=${LC_CONC:-50} LC_ITERS=${LC_ITERS:-20000} ROUNDS=${ROUNDS:-4}
THINK_VUS=${THINK_VUS:-10000} THINK_DURATION=${THINK_DURATION:-20s}
SCHEME=${SCHEME:-http}
OUT=${OUT:-$(mktemp -d -t chatload-ab.XXXXXX)}
mkdir -p "$OUT"
for bin in "$A" "$B" "$MOCK" /usr/bin/time; do
    [[ -x $bin ]] || { echo "missing $bin" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
MOCK_TLS=() TLS=() CURL_TLS=()
if [[ $SCHEME == https ]]; then
    MOCK_TLS=(--tls --tls-ca-out "$OUT/ca.pem") TLS=(--ca-cert "$OUT/ca.pem" --http 1.1)
    CURL_TLS=(--cacert "$OUT/ca.pem")
fi
# A fresh mock for every run: the mock keeps every user and chat, and a
# fuller mock is a slower one. With one mock for all runs, the build that
# ran second in a pair met more state; over an odd number of rounds that
# favoured A (an A/A run of one binary against one mock, 5 rounds: lifecycle
# rate 0.957).
MOCK_PID=
stop_mock() { [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null; MOCK_PID=; }
trap stop_mock EXIT
start_mock() {
    stop_mock
    "$MOCK" --port "$PORT" --config bench/mock.yaml "${MOCK_TLS[@]}" >>"$OUT/mock.log" 2>&1 &
    MOCK_PID=$!
    for _ in $(seq 100); do
        curl -fs "${CURL_TLS[@]}" "$SCHEME://127.0.0.1:$PORT/__mock/health" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "the mock did not start on port $PORT (see $OUT/mock.log)" >&2
    exit 2
}
BASE=$SCHEME://127.0.0.1:$PORT/v1
TICK=$(getconf CLK_TCK)
mock_ticks() { awk '{print $14 + $15}' "/proc/$MOCK_PID/stat"; }

# one BUILD_LABEL BINARY PHASE ARGS...: one chatload run; appends a row to $OUT/rows.
one() {
    local label=$1 bin=$2 phase=$3; shift 3
    local json=$OUT/$phase-$label-$round.json before after
    start_mock
    before=$(mock_ticks)
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time" timeout -s INT 300 "$bin" run "bench/$phase.yaml" \
        --target "$BASE" "${TLS[@]}" "$@" --quiet --out "$json" >/dev/null 2>"$OUT/$phase-$label-$round.err" || true
    after=$(mock_ticks)
    read -r wall user sys rss < <(tail -n1 "$OUT/time")
    jq -r --arg p "$phase" --arg l "$label" --arg r "$round" --arg w "$wall" --arg u "$user" \
        --arg s "$sys" --arg k "$rss" --arg m "$(((after - before)))" --arg t "$TICK" '
        .totals.requests as $n | (if $p == "lifecycle-7" then (.totals.iterations / ($w | tonumber))
            else ($n / .meta.duration_secs) end) as $rate |
        [$p, $l, $r, $n, .totals.errors, ($rate | floor),
         ((($u | tonumber) + ($s | tonumber)) * 1e6 / $n * 10 | round / 10),
         (($m | tonumber) / ($t | tonumber) * 1e6 / $n * 10 | round / 10),
         (($k | tonumber) / 1024 | round)] | @tsv' "$json" | tee -a "$OUT/rows"
}

printf 'phase\tbuild\tround\trequests\terrors\trate/s\tµs/req\tmock µs/req\tRSS MB\n' | tee "$OUT/rows"
for round in $(seq "$ROUNDS"); do
    order=(A B); ((round % 2)) || order=(B A)
    for label in "${order[@]}"; do
        bin=$A; [[ $label == B ]] && bin=$B
        one "$label" "$bin" single-route --vus "$CONNS" --duration "${DURATION}s"
    done
    for label in "${order[@]}"; do
        bin=$A; [[ $label == B ]] && bin=$B
        one "$label" "$bin" lifecycle-7 --vus "$LC_CONC" --iterations "$LC_ITERS"
    done
done
if [[ $THINK_DURATION != 0 ]]; then
    round=1
    for label in A B; do
        bin=$A; [[ $label == B ]] && bin=$B
        one "$label" "$bin" think-heavy --vus "$THINK_VUS" --duration "$THINK_DURATION"
    done
fi

echo
echo "A = $A"
echo "B = $B"
echo "$(nproc) cores, load average now $(cut -d' ' -f1-3 /proc/loadavg); raw output in $OUT"
echo "median over rounds of B / A (rate > 1: B faster; µs/req and RSS < 1: B cheaper):"
awk -F'\t' 'NR > 1 { k = $1 SUBSEP $3; if ($2 == "A") { ra[k] = $6; ca[k] = $7; ma[k] = $9 }
                     else { rb[k] = $6; cb[k] = $7; mb[k] = $9 } ; ph[$1] = 1 }
    END {
        for (p in ph) {
            n = 0
            for (k in ra) { split(k, f, SUBSEP); if (f[1] == p && (k in rb)) {
                n++; r[n] = rb[k] / ra[k]; c[n] = cb[k] / ca[k]; m[n] = mb[k] / ma[k] } }
            printf "  %-13s rate %s  chatload CPU/req %s  peak RSS %s  (%d rounds)\n", p,
                med(r, n), med(c, n), med(m, n), n
        }
    }
    function med(v, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return n == 0 ? "n/a" : sprintf("%.3f", (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
    }' "$OUT/rows"
