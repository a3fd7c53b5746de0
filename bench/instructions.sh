#!/usr/bin/env bash
# Instructions per request of chatload builds on the lifecycle, counted by
# callgrind: the same count whatever else the box does, so a regression of a
# few percent shows where wall-clock CPU (±10% on a 2-core box) cannot.
#
# Each build runs the lifecycle (bench/lifecycle-7.yaml, 1 VU) twice, for
# SHORT and LONG iterations, each against a freshly started mock (its stored
# users and chats would otherwise grow the bodies from run to run);
# instructions per request = the difference / the requests between the runs,
# so start-up and the end-of-run report's fixed part cancel out. Printed raw
# and without the once-a-second tick and the report, whose cost follows wall
# time (which valgrind stretches by a factor of the box's load).
#
# Usage: bench/instructions.sh BINARY [BINARY...]   (release builds; from anywhere)
# Env:   CHATLOAD_MOCK (default $CARGO_TARGET_DIR/release/chatload-mock)
#        PORT (18491) SHORT (2000) LONG (6000) OUT (a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { sed -n '2,16p' "$0" >&2; exit 2; }
MOCK=${CHATLOAD_MOCK:-${CARGO_TARGET_DIR:-target}/release/chatload-mock}
PORT=${PORT:-18491} SHORT=${SHORT:-2000} LONG=${LONG:-6000}
OUT=${OUT:-$(mktemp -d -t chatload-instr.XXXXXX)}
for tool in valgrind callgrind_annotate python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
[[ -x $MOCK ]] || { echo "missing $MOCK" >&2; exit 2; }
MOCK_PID=
stop_mock() { [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null; MOCK_PID=; }
trap stop_mock EXIT

# count BINARY LABEL N: one callgrind run of N iterations, annotated inclusive.
count() {
    stop_mock
    "$MOCK" --port "$PORT" --config bench/mock.yaml >"$OUT/mock.log" 2>&1 &
    MOCK_PID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/__mock/health" >/dev/null && break; sleep 0.1; done
    timeout 900 valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$2.$3" "$1" run bench/lifecycle-7.yaml \
        --target "http://127.0.0.1:$PORT/v1" --vus 1 --iterations "$3" --quiet \
        --out "$OUT/$2.$3.json" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$OUT/cg.$2.$3" >"$OUT/cg.$2.$3.txt" 2>/dev/null
}

i=0
for bin in "$@"; do
    [[ -x $bin ]] || { echo "missing $bin" >&2; exit 2; }
    i=$((i + 1))
    count "$bin" "b$i" "$SHORT"
    count "$bin" "b$i" "$LONG"
    python3 - "$OUT" "b$i" "$SHORT" "$LONG" "$bin" <<'PY'
import json, re, sys
out, label, short, long_, binary = sys.argv[1:]
# Work that follows wall time, not requests: the progress tick and the report.
TIMED = re.compile(r':(chatload::app::live::Tick::once|chatload::app::run::tick_progress::\{\{closure\}\}|chatload::report::build::build) ')
def grab(n):
    total = timed = 0
    for line in open(f'{out}/cg.{label}.{n}.txt'):
        m = re.match(r'\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$', line)
        if not m:
            continue
        v = int(m.group(1).replace(',', ''))
        if m.group(2).startswith('PROGRAM TOTALS'):
            total = v
        elif TIMED.search(m.group(2) + ' '):
            timed += v
    report = json.load(open(f'{out}/{label}.{n}.json'))
    return total, timed, report['totals']['requests'], report['totals']['errors']
a, b = grab(short), grab(long_)
requests = b[2] - a[2]
print(f"{binary}: {(b[0] - a[0]) / requests:,.0f} instructions/request raw, "
      f"{((b[0] - b[1]) - (a[0] - a[1])) / requests:,.0f} without the tick and the report "
      f"({requests} requests between the runs; errors {a[3]}/{b[3]})")
PY
done
echo "callgrind files: $OUT"
