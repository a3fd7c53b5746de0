#!/usr/bin/env bash
# chatload benchmark (issue 3, point 9). Loopback only, bounded in time
# (every tool runs under `timeout`), prints a table of figures at the end.
#
# What it measures, against ONE bundled mock started as a separate process
# (release build, bench/mock.yaml), tools run one after the other:
#   1. single route  GET /v1/settings (x-hyper-appId): oha vs chatload at equal
#      connections and duration (closed model, vus = connections, no think);
#   2. each tool's own CPU time per request (/usr/bin/time) and the mock's CPU
#      over each phase (/proc/<mock pid>/stat utime+stime);
#   3. the 7-request chat lifecycle (bench/lifecycle-7.yaml vs
#      bench/drill-lifecycle.yml) at equal concurrency and iterations;
#      lifecycles/s = iterations / wall time of the tool's process;
#   4. peak RSS of chatload with 10,000 VUs in a think-heavy scenario.
#
# Over HTTPS (issue 12, point 2): SCHEME=https (or bench/https.sh) starts the
# mock with --tls and a generated CA (--tls-ca-out), and every tool trusts that
# CA: chatload --ca-cert, oha --cacert, drill with its TLS checks off (it has
# no CA option). HTTP_VERSION (1.1) picks the protocol both chatload and oha
# use over TLS: 1.1, or 2 (oha --http2, one stream per connection).
#
# Usage: bench/run.sh            (from the workspace root)
# Env:   CHATLOAD, CHATLOAD_MOCK  binaries (default $CARGO_TARGET_DIR/release/...)
#        SCHEME (http) HTTP_VERSION (1.1, https only)
#        CHATLOAD_ARGS  extra chatload run arguments, e.g. "--schema off"
#        OHA, DRILL               tools (default: found on PATH)
#        PORT (18480) CONNS (50) DURATION (10) LC_CONC (50) LC_ITERS (20000)
#        ROUNDS (2: each pair runs twice, in alternating order)
#        THINK_VUS (10000) THINK_DURATION (20s) OUT (a fresh temp dir)
#        SKIP="oha drill think" to leave phases out
# Build first:
#   cargo build --release -p chatload --bin chatload
#   cargo build --release -p chatload-mock --bin chatload-mock
#   cargo install oha --locked; cargo install drill --locked
set -uo pipefail

cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CHATLOAD=${CHATLOAD:-$TARGET_DIR/release/chatload}
CHATLOAD_MOCK=${CHATLOAD_MOCK:-$TARGET_DIR/release/chatload-mock}
OHA=${OHA:-$(command -v oha || true)}
DRILL=${DRILL:-$(command -v drill || true)}
PORT=${PORT:-18480}
CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
LC_CONC=${LC_CONC:-50}
LC_ITERS=${LC_ITERS:-20000}
ROUNDS=${ROUNDS:-2}
THINK_VUS=${THINK_VUS:-10000}
THINK_DURATION=${THINK_DURATION:-20s}
OUT=${OUT:-$(mktemp -d -t chatload-bench.XXXXXX)}
SKIP=${SKIP:-}
SCHEME=${SCHEME:-http}
HTTP_VERSION=${HTTP_VERSION:-1.1}
TIME=/usr/bin/time
TICK=$(getconf CLK_TCK)
BASE=$SCHEME://127.0.0.1:$PORT/v1

mkdir -p "$OUT"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
for bin in "$CHATLOAD" "$CHATLOAD_MOCK" "$TIME"; do
    [[ -x $bin ]] || { echo "missing $bin (see the header of $0)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

skip() { [[ " $SKIP " == *" $1 "* ]]; }

# Per-scheme arguments: the mock's TLS flags and how each tool trusts its CA.
MOCK_TLS=() CURL_TLS=() CHATLOAD_TLS=() OHA_TLS=() DRILL_TLS=()
case $SCHEME in
    http) ;;
    https)
        CA=$OUT/mock-ca.pem
        MOCK_TLS=(--tls --tls-ca-out "$CA")
        CURL_TLS=(--cacert "$CA")
        CHATLOAD_TLS=(--ca-cert "$CA" --http "$HTTP_VERSION")
        OHA_TLS=(--cacert "$CA")
        case $HTTP_VERSION in
            1.1) ;;
            2) OHA_TLS+=(--http2) ;;
            *) echo "HTTP_VERSION must be 1.1 or 2, not $HTTP_VERSION" >&2; exit 2 ;;
        esac
        # drill has no CA option: it skips verification (the handshake still runs).
        DRILL_TLS=(--no-check-certificate)
        ;;
    *) echo "SCHEME must be http or https, not $SCHEME" >&2; exit 2 ;;
esac

# --- the mock -----------------------------------------------------------------
"$CHATLOAD_MOCK" --port "$PORT" --config bench/mock.yaml "${MOCK_TLS[@]}" >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null' EXIT
HEALTH=$SCHEME://127.0.0.1:$PORT/__mock/health
for _ in $(seq 100); do
    curl -fs "${CURL_TLS[@]}" "$HEALTH" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "${CURL_TLS[@]}" "$HEALTH" >/dev/null || { echo "mock did not start" >&2; cat "$OUT/mock.log" >&2; exit 3; }

# utime + stime of the mock, in clock ticks.
mock_ticks() { awk '{print $14 + $15}' "/proc/$MOCK_PID/stat"; }

# Table rows: phase|tool|requests|errors|wall_s|req/s|lifecycles/s|tool_cpu_s|tool_us/req|mock_cpu_s|mock_us/req|rss_mb
ROWS=()
declare -A RATE=()   # "phase|tool" -> req/s, or lifecycles/s for the lifecycle
declare -A CPU=()    # "phase|tool" -> the tool's CPU µs per request

# run_timed NAME CMD... : runs CMD under /usr/bin/time and timeout; leaves
# "$OUT/NAME.time" = "wall user sys maxrss_kb" and the mock's CPU seconds in MOCK_CPU.
run_timed() {
    local name=$1; shift
    local before after
    before=$(mock_ticks)
    "$TIME" -f '%e %U %S %M' -o "$OUT/$name.time" timeout -s INT 300 "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    local rc=$?
    after=$(mock_ticks)
    MOCK_CPU=$(awk -v a="$after" -v b="$before" -v t="$TICK" 'BEGIN{printf "%.2f", (a-b)/t}')
    # /usr/bin/time prints "Command exited with non-zero status" first when rc != 0.
    tail -n1 "$OUT/$name.time" >"$OUT/$name.time.1" && mv "$OUT/$name.time.1" "$OUT/$name.time"
    echo "  $name: exit $rc, $(cat "$OUT/$name.time") (wall s, user s, sys s, max RSS KiB), mock CPU ${MOCK_CPU}s" >&2
}

# row PHASE TOOL REQUESTS ERRORS WALL_FOR_RATE ITERATIONS NAME
row() {
    local phase=$1 tool=$2 req=$3 err=$4 wall=$5 iters=$6 name=$7
    read -r _ user sys rss <"$OUT/$name.time"
    ROWS+=("$(awk -v p="$phase" -v t="$tool" -v r="$req" -v e="$err" -v w="$wall" -v i="$iters" \
        -v u="$user" -v s="$sys" -v m="$MOCK_CPU" -v k="$rss" 'BEGIN{
        cpu = u + s;
        lc = (i == "-") ? "-" : sprintf("%.0f", i / w);
        printf "%s|%s|%d|%d|%.2f|%.0f|%s|%.2f|%.1f|%.2f|%.1f|%.1f", p, t, r, e, w, r / w, lc,
            cpu, (r > 0 ? cpu * 1e6 / r : 0), m, (r > 0 ? m * 1e6 / r : 0), k / 1024 }')")
    local last=${ROWS[-1]}
    IFS='|' read -r _ _ _ _ _ rps lcs _ us _ <<<"$last"
    RATE["$phase|$tool"]=$([[ $lcs == - ]] && echo "$rps" || echo "$lcs")
    CPU["$phase|$tool"]=$us
}

wall_of() { awk '{print $1}' "$OUT/$1.time"; }
# The HTTP versions chatload's responses came over (meta.http_versions), so a
# run that fell back to another protocol than asked shows in the log.
protocols() { echo "  $1: protocol $(jq -c '.meta.http_versions' "$OUT/$1.json")" >&2; }

# --- 1. single route: oha and chatload, alternating order each round ------------
single_oha() {
    local name=oha-$1
    run_timed "$name" "$OHA" --no-tui --output-format json -z "${DURATION}s" -c "$CONNS" "${OHA_TLS[@]}" \
        -H 'x-hyper-appId: demo-app' "$BASE/settings"
    local req ok errs secs
    req=$(jq '[.statusCodeDistribution[]] | add // 0' "$OUT/$name.out")
    ok=$(jq '.statusCodeDistribution["200"] // 0' "$OUT/$name.out")
    # Requests cut off by the deadline are not failures: chatload lets its last ones finish.
    errs=$(jq '[.errorDistribution | to_entries[] | select(.key != "aborted due to deadline") | .value] | add // 0' "$OUT/$name.out")
    secs=$(jq '.summary.total' "$OUT/$name.out")
    row "single-route r$1" oha "$req" "$((req - ok + errs))" "$secs" - "$name"
}
single_chatload() {
    local name=chatload-single-$1
    run_timed "$name" "$CHATLOAD" run bench/single-route.yaml --target "$BASE" \
        --vus "$CONNS" --duration "${DURATION}s" --quiet "${CHATLOAD_TLS[@]}" ${CHATLOAD_ARGS:-} --out "$OUT/$name.json"
    protocols "$name"
    row "single-route r$1" chatload "$(jq '.totals.requests' "$OUT/$name.json")" \
        "$(jq '.totals.errors' "$OUT/$name.json")" "$(jq '.meta.duration_secs' "$OUT/$name.json")" - "$name"
}
echo "single route GET /v1/settings, $CONNS connections, ${DURATION}s, $ROUNDS round(s)" >&2
for round in $(seq "$ROUNDS"); do
    if skip oha || [[ -z $OHA ]]; then
        single_chatload "$round"
    elif ((round % 2)); then
        single_oha "$round"; single_chatload "$round"
    else
        single_chatload "$round"; single_oha "$round"
    fi
done

# --- 3. 7-request lifecycle: drill and chatload, alternating order ---------------
lifecycle_drill() {
    local name=drill-$1
    sed -e "s|^base: .*|base: '$BASE'|" -e "s|^iterations: .*|iterations: $LC_ITERS|" \
        -e "s|^concurrency: .*|concurrency: $LC_CONC|" bench/drill-lifecycle.yml >"$OUT/drill.yml"
    run_timed "$name" env NO_COLOR=1 "$DRILL" --benchmark "$OUT/drill.yml" --stats --quiet "${DRILL_TLS[@]}"
    sed -e 's/\x1b\[[0-9;]*m//g' "$OUT/$name.out" >"$OUT/$name.txt"
    local req errs
    req=$(awk '/^Total requests/ {print $NF}' "$OUT/$name.txt" | tail -n1)
    errs=$(awk '/^Failed requests/ {print $NF}' "$OUT/$name.txt" | tail -n1)
    row "lifecycle-7 r$1" drill "${req:-0}" "${errs:-0}" "$(wall_of "$name")" "$LC_ITERS" "$name"
}
lifecycle_chatload() {
    local name=chatload-lifecycle-$1
    run_timed "$name" "$CHATLOAD" run bench/lifecycle-7.yaml --target "$BASE" \
        --vus "$LC_CONC" --iterations "$LC_ITERS" --quiet "${CHATLOAD_TLS[@]}" ${CHATLOAD_ARGS:-} --out "$OUT/$name.json"
    protocols "$name"
    row "lifecycle-7 r$1" chatload "$(jq '.totals.requests' "$OUT/$name.json")" \
        "$(jq '.totals.errors' "$OUT/$name.json")" "$(wall_of "$name")" \
        "$(jq '.totals.iterations' "$OUT/$name.json")" "$name"
}
echo "lifecycle (7 requests), concurrency $LC_CONC, $LC_ITERS iterations, $ROUNDS round(s)" >&2
for round in $(seq "$ROUNDS"); do
    if skip drill || [[ -z $DRILL ]]; then
        lifecycle_chatload "$round"
    elif ((round % 2)); then
        lifecycle_drill "$round"; lifecycle_chatload "$round"
    else
        lifecycle_chatload "$round"; lifecycle_drill "$round"
    fi
done

# --- 4. 10,000 VUs, think-heavy: peak RSS -----------------------------------------
if ! skip think; then
    echo "think-heavy: $THINK_VUS VUs, $THINK_DURATION" >&2
    run_timed chatload-think "$CHATLOAD" run bench/think-heavy.yaml --target "$BASE" \
        --vus "$THINK_VUS" --duration "$THINK_DURATION" --quiet "${CHATLOAD_TLS[@]}" --out "$OUT/chatload-think.json"
    req=$(jq '.totals.requests' "$OUT/chatload-think.json")
    errs=$(jq '.totals.errors' "$OUT/chatload-think.json")
    secs=$(jq '.meta.duration_secs' "$OUT/chatload-think.json")
    row "think-${THINK_VUS}vu" chatload "$req" "$errs" "$secs" - chatload-think
fi

# --- the table -------------------------------------------------------------------
# Stop the mock first: it logs its TLS handshakes by protocol (ALPN) at shutdown,
# the evidence of which protocol each tool's connections spoke.
kill -TERM "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null
echo
PROTO=$SCHEME; [[ $SCHEME == https ]] && PROTO="https (HTTP/$HTTP_VERSION)"
echo "chatload benchmark over $PROTO, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -m), load average at start $LOAD_AT_START; raw output in $OUT"
{
    echo "phase|tool|requests|errors|wall s|req/s|lifecycles/s|tool CPU s|tool CPU µs/req|mock CPU s|mock CPU µs/req|peak RSS MB"
    printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
echo "wall s: the tool's own measured duration for single-route and think rows (oha summary.total,"
echo "chatload meta.duration_secs); the process wall time (/usr/bin/time) for lifecycle rows, where"
echo "lifecycles/s = iterations / wall. CPU = user + sys of the tool's process; mock CPU = utime + stime"
echo "of the mock process over the same phase. Peak RSS = /usr/bin/time maximum resident set size."
if [[ $SCHEME == https ]]; then
    echo "TLS: chatload and oha over HTTP/$HTTP_VERSION; drill negotiates HTTP/2 by ALPN (it has no option"
    echo "for 1.1). The mock's handshakes over the whole run, by protocol:"
    echo "  $(grep -o 'TLS handshakes.*' "$OUT/mock.log" | tail -n1)"
fi
echo
echo "targets:"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
for round in $(seq "$ROUNDS"); do
    c=${RATE["single-route r$round|chatload"]:-}; o=${RATE["single-route r$round|oha"]:-}
    [[ -n $c && -n $o ]] && echo "  round $round single route: chatload/oha req/s = $(ratio "$c" "$o") (target >= 1.0)," \
        "CPU per request = $(ratio "${CPU["single-route r$round|chatload"]}" "${CPU["single-route r$round|oha"]}")"
    c=${RATE["lifecycle-7 r$round|chatload"]:-}; d=${RATE["lifecycle-7 r$round|drill"]:-}
    [[ -n $c && -n $d ]] && echo "  round $round lifecycle: chatload/drill lifecycles/s = $(ratio "$c" "$d") (target >= 1.5 over http)," \
        "CPU per request = $(ratio "${CPU["lifecycle-7 r$round|chatload"]}" "${CPU["lifecycle-7 r$round|drill"]}")"
done
if [[ -f $OUT/chatload-think.time ]]; then
    awk -v v="$THINK_VUS" '{printf "  %d VUs: chatload peak RSS = %.1f MB (target < 300)\n", v, $4 / 1024}' "$OUT/chatload-think.time"
fi
