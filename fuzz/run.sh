#!/usr/bin/env bash
# Long-running fuzzing of every parser and decoder: runs each cargo-fuzz target of fuzz/ (or
# the ones named) for SECONDS (default 3600) with libFuzzer, one after the other, keeping the
# corpus in fuzz/corpus/<target> (it grows from run to run; an empty one is seeded by
# fuzz/seeds.py) and any crash in
# fuzz/artifacts/<target>/. Prints one line per target, then a summary, in the form
# BENCHMARKS.md records:
#
#   target=parse_message seconds=3600 runs=123456789 corpus=2345 crashes=0 slow_units=0 rc=0
#
# Usage: fuzz/run.sh [SECONDS] [TARGET ...]      e.g. fuzz/run.sh 60 parse_message ras
# Knobs: JOBS=N (libFuzzer -fork=N workers per target; default 1), RSS_MB (default 2048),
#        NO_BUILD=1 (run the binaries of the last `cargo fuzz build --release` as they are: the
#        sanitized build of the h323 crate takes tens of minutes; say which commit they are).
# Needs: a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz (installed
# here with `cargo install cargo-fuzz` when missing).
set -u
SECONDS_EACH="${1:-3600}"
shift || true
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
JOBS="${JOBS:-1}"
RSS_MB="${RSS_MB:-2048}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz || exit 2
targets="$*"
[ -n "$targets" ] || targets="$(cargo +nightly fuzz list)"
BIN_DIR="$HERE/target/x86_64-unknown-linux-gnu/release"
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo +nightly fuzz build --release $targets >/dev/null 2>&1 || cargo +nightly fuzz build --release || exit 2
fi
# A target with an empty corpus starts from real encodings (fuzz/seeds.py: the torture
# messages for the SIP targets, the asn1tools-encoded golden vectors for the H.323 ones, SDP,
# STUN...): unseeded, peek ran 12.6 million times clean; seeded, it found two disagreements
# with the parser within 4 million runs (fixed in 4ce61c9 and 8dbaf02)
seed() {   # $1: target
    [ -z "$(ls -A "corpus/$1")" ] || return 0
    python3 "$HERE/seeds.py" "$1" "corpus/$1" >/dev/null || exit 2
}
failed=0
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    seed "$t"
    log="$(mktemp)"
    # libFuzzer's slow-unit-* files name inputs that took over 10 s (on a busy machine, a
    # starved process): reported apart, not as crashes
    count() { find "artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l; }
    slow_before=$(find "artifacts/$t" -type f -name 'slow-unit-*' | wc -l)
    before=$(count)
    "$BIN_DIR/$t" "corpus/$t" \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" $( [ "$JOBS" -gt 1 ] && echo "-fork=$JOBS" ) \
        >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    crashes=$(( $(count) - before ))
    slow=$(( $(find "artifacts/$t" -type f -name 'slow-unit-*' | wc -l) - slow_before ))
    corpus=$(find "corpus/$t" -type f | wc -l)
    echo "target=$t seconds=$SECONDS_EACH runs=${runs:-?} corpus=$corpus crashes=$crashes slow_units=$slow rc=$rc"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=$((failed + 1))
        tail -30 "$log" | sed "s/^/    [$t] /"
    fi
    rm -f "$log"
done
echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'): $(echo $targets | wc -w) targets, $failed with a crash or an error"
[ "$failed" -eq 0 ]
