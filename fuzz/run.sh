#!/usr/bin/env bash
# Runs every fuzz target for a bounded time; exits non-zero on a crash and
# prints the reproducer. Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Works on the stable toolchain: cargo-fuzz with `--sanitizer none` needs no
# nightly flag (libFuzzer's coverage comes from `-Cpasses=sancov-module`,
# which stable rustc accepts). Not part of CI's test command.
set -euo pipefail

SECONDS_PER_TARGET="${1:-60}"
shift || true
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
ALL_TARGETS=(scenario template threshold mock_config)
TARGETS=("$@")
if [ "$#" -eq 0 ]; then TARGETS=("${ALL_TARGETS[@]}"); fi
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION (one time, a few minutes)" >&2
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# Seeds from what the project ships, rebuilt each run so they follow the files.
# Each ```yaml block of a Markdown file, and each `scenario: |` of the
# validation problem cases, becomes one seed file.
yaml_blocks() { # FILE OUTDIR PREFIX
    awk -v out="$2" -v pre="$3" '
        /^```yaml/ { n++; f = sprintf("%s/%s-%02d.yaml", out, pre, n); inb = 1; next }
        /^```/ && inb { inb = 0; close(f); next }
        inb { print > f }' "$1"
}
problem_cases() { # FILE OUTDIR
    awk -v out="$2" '
        /^  scenario: \|/ { n++; f = sprintf("%s/problem-%03d.yaml", out, n); inb = 1; next }
        inb && /^    / { sub(/^    /, ""); print > f; next }
        inb { inb = 0; close(f) }' "$1"
}
make_seeds() {
    local seeds="$HERE/seeds"
    rm -rf "$seeds"
    mkdir -p "$seeds"/{scenario,template,threshold,mock_config}
    local f
    for f in "$ROOT"/scenarios/*.yaml "$ROOT"/scenarios/*/*.yaml; do
        cp "$f" "$seeds/scenario/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    for f in "$ROOT"/docs/*.md "$ROOT"/README.md; do
        yaml_blocks "$f" "$seeds/scenario" "$(basename "$f" .md)"
    done
    problem_cases "$ROOT/src/scenario/problem_cases.yaml" "$seeds/scenario"
    cp "$ROOT/mock-server/mock.example.yaml" "$seeds/mock_config/"
    yaml_blocks "$ROOT/mock-server/README.md" "$seeds/mock_config" readme
    # Every quoted template and every threshold line the shipped files hold.
    local i=0 line
    while IFS= read -r line; do
        i=$((i + 1))
        printf '%s' "$line" >"$seeds/template/t$i"
    done < <(grep -rhoE '"[^"]*\{\{[^"]*\}\}[^"]*"' "$ROOT"/scenarios "$ROOT"/docs "$ROOT"/README.md |
        sed -E 's/^"(.*)"$/\1/' | sort -u)
    i=0
    while IFS= read -r line; do
        i=$((i + 1))
        printf '%s' "$line" >"$seeds/threshold/t$i"
    done < <(grep -rhE '(<|>|==) *[0-9.]+ *(ms|s|%)?"?$' "$ROOT"/scenarios "$ROOT"/docs/*.md "$ROOT"/README.md |
        sed -E 's/^[[:space:]]*-?[[:space:]]*(threshold:)?[[:space:]]*"?//; s/"$//' | sort -u)
}

make_seeds
cd "$HERE"
failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    echo "== fuzzing $t for ${SECONDS_PER_TARGET}s (seeds: $(ls "seeds/$t" | wc -l) files)" >&2
    if ! cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048; then
        failed+=("$t")
        echo "!! $t crashed; reproducer(s):" >&2
        ls -1 "$HERE/artifacts/$t"/* 2>/dev/null >&2 || true
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashes in: ${failed[*]} (replay: cargo fuzz run --sanitizer none TARGET ARTIFACT)" >&2
    exit 1
fi
echo "no crash in: ${TARGETS[*]}" >&2
