#!/usr/bin/env bash
# Before/after: the same benchmark, in causeway-only mode, for an earlier revision and for this
# tree, back to back in one run on the same machine. Each revision is measured by its own
# bench script (from a temporary git worktree of REV, built into its own target directory), so
# the figures are what each revision's README would have printed; the lines are prefixed with
# the revision they belong to. Runs A (REV), B (this tree), A, B: the repeat shows the noise.
#
# Usage: bench/compare.sh REV [cps|twohop|media|ras ...]     (default: cps media ras)
#   twohop: cps.sh twohop (UAC -> E -> traversal link -> C -> UAS, CPU of E and C together)
# Knobs: CPS_ENV, MEDIA_ENV, RAS_ENV: "VAR=value ..." given to that script only (RATES means
# something else to each), e.g. CPS_ENV="RATES='1000 3000' DUR=20"; ROUNDS=2.
# Needs what the scripts need (sipp, gcc, python3; h323-endpoint is built by ras.sh).
set -u
REV="${1:?usage: bench/compare.sh REV [cps|media|ras ...]}"
shift
BENCHES="${*:-cps media ras}"
ROUNDS="${ROUNDS:-2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$(mktemp -d /tmp/cwbase.XXXXXX)"
cleanup() { git -C "$ROOT" worktree remove --force "$BASE/tree" >/dev/null 2>&1; rm -rf "$BASE"; }
trap cleanup EXIT INT TERM
git -C "$ROOT" worktree add --detach "$BASE/tree" "$REV" >/dev/null || exit 2
# the shared directory the scripts read (../shared) must sit beside the old tree too
ln -s "$(cd "$ROOT/../shared" && pwd)" "$BASE/shared"
OLD="$(git -C "$ROOT" rev-parse --short "$REV")"
NEW="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo +)"
echo "# compare $OLD (A) with $NEW (B): $BENCHES, $ROUNDS rounds, $(date -u +%F), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
for bench in $BENCHES; do
    for round in $(seq "$ROUNDS"); do
        for side in A B; do
            if [ "$side" = A ]; then tree="$BASE/tree"; rev="$OLD"; else tree="$ROOT"; rev="$NEW"; fi
            echo "## $bench round $round: $side = $rev"
            script=$bench; mode=causeway
            case "$bench" in
                cps) knobs="${CPS_ENV:-}" ;;
                twohop) knobs="${CPS_ENV:-}"; script=cps; mode=twohop ;;
                media) knobs="${MEDIA_ENV:-}" ;;
                *) knobs="${RAS_ENV:-}"; mode=both ;;   # ras.sh has no peer to leave out
            esac
            eval "env $knobs CARGO_TARGET_DIR=\"\$tree/target\" bash \"\$tree/bench/\$script.sh\" \"\$mode\"" 2>&1 \
                | sed "s/^/$side $rev | /"
        done
    done
done
