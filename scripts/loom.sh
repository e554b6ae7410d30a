#!/usr/bin/env bash
# Loom model checking of logbridge-core (crates/logbridge-core/tests/loom.rs).
#
#   scripts/loom.sh [test [TEST-ARGS...]]   run the models (release, --nocapture) and print how
#                                           many executions loom explored; TEST-ARGS go to the
#                                           test harness (e.g. a test name filter)
#   scripts/loom.sh clippy                  clippy -D warnings over logbridge-core's tests,
#                                           compiled with cfg(loom)
#
# Environment: LOOM_MAX_PREEMPTIONS (default 3, see PREEMPTION_BOUND in tests/loom.rs for why and
# for measured times: about 1 s at 3, 18 s at 5, 95 s at 6 on a 2-core machine) and the
# other LOOM_* variables of loom::model::Builder (LOOM_LOG, LOOM_MAX_PERMUTATIONS, ...).
# Builds go to target/loom, so switching cfg(loom) on never rebuilds the main target directory.
#
# Why not RUSTFLAGS="--cfg loom": RUSTFLAGS reaches every crate of the build, and several
# dependencies have their own cfg(loom) code: maitake-sync swaps in loom types under it, and
# bbqueue 0.7 (a dev-dependency of logbridge-core, for benches/peers.rs), built with its default
# maitake-sync feature, then fails to compile ("cannot call non-const associated function
# `WaitCell::new` in constants"). Loom should only model our code anyway. So this script is also
# a rustc wrapper (RUSTC_WRAPPER) that adds `--cfg loom` to exactly two kinds of rustc call:
#   * cargo's target-info query (`--print=cfg`), so that cargo evaluates
#     [target.'cfg(loom)'.dev-dependencies] as true and builds loom;
#   * the compilation of logbridge-core's own sources (its lib and its test targets).
set -euo pipefail

if [[ "${LOGBRIDGE_LOOM_WRAPPER:-}" == 1 ]]; then
    # Wrapper mode: "$@" is the real rustc (or clippy-driver, then rustc) and its arguments.
    # An outer RUSTC_WRAPPER the caller had (sccache, ...) is kept in front.
    inner=()
    if [[ -n "${LOGBRIDGE_LOOM_INNER_WRAPPER:-}" ]]; then
        inner=("$LOGBRIDGE_LOOM_INNER_WRAPPER")
    fi
    for arg in "$@"; do
        case "$arg" in
        --print=cfg | crates/logbridge-core/src/* | crates/logbridge-core/tests/* | */crates/logbridge-core/src/* | */crates/logbridge-core/tests/*)
            exec "${inner[@]}" "$@" --cfg loom
            ;;
        esac
    done
    exec "${inner[@]}" "$@"
fi

cd "$(dirname "$0")/.."
root="$PWD"
export CARGO_TARGET_DIR="$root/target/loom"
export LOGBRIDGE_LOOM_INNER_WRAPPER="${RUSTC_WRAPPER:-}"
export RUSTC_WRAPPER="$root/scripts/loom.sh"
export LOGBRIDGE_LOOM_WRAPPER=1
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"

mode="${1:-test}"
shift || true
case "$mode" in
clippy)
    echo "== cargo clippy -p logbridge-core --tests (cfg(loom)) -D warnings"
    cargo clippy --locked -p logbridge-core --tests -- -D warnings
    ;;
test)
    echo "== loom models (cfg(loom), release, LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS, target/loom)"
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    start=$SECONDS
    # The model checker prints one line per model; keep them for the summary. The models that
    # must fail print a panic message on purpose (their test passes when loom finds it).
    status=0
    cargo test --locked -p logbridge-core --test loom --release -- --nocapture "$@" 2>&1 | tee "$log" || status=$?
    echo "== loom summary ($((SECONDS - start)) s including the build)"
    grep '^loom: ' "$log" | grep -v 'expecting a counterexample' || true
    if [[ $status -ne 0 ]]; then
        echo "== loom: FAILED (exit status $status)" >&2
    fi
    exit "$status"
    ;;
*)
    echo "usage: scripts/loom.sh [test|clippy]" >&2
    exit 2
    ;;
esac
