#!/usr/bin/env bash
# LogBridge's test command (README "The two commands"): formatting, lints, the Windows type-check,
# the ARM64 CRC-32C engine under qemu, the loom models, a fuzzing smoke run, then every test of the
# workspace.
#
# Tests that drive real tools (windmc, mingw-w64 gcc against the DDK headers, pywbem's MOF
# compiler, cargo-fuzz on the nightly toolchain, qemu-aarch64) skip with a message when a tool is missing, unless
# LOGBRIDGE_REQUIRE_TOOLS=1 (as in CI), which turns a missing tool into a failure. `.ci/run`
# installs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

# Property tests (proptest) draw their cases from this seed unless the caller sets one, so a red run
# is reproducible and no random seed can block a landing; the saved regressions in each crate's
# proptest-regressions/ run first anyway. Wide local run: PROPTEST_RNG_SEED=$RANDOM PROPTEST_CASES=20000.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-1105}"
echo "== property tests use PROPTEST_RNG_SEED=$PROPTEST_RNG_SEED${PROPTEST_CASES:+, PROPTEST_CASES=$PROPTEST_CASES}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Windows type-check (Debian rustc-web, -Zbuild-std)"
bash scripts/check-windows.sh

echo "== driver layer: type-check and clippy against the wdk-sys transcription (scripts/check-driver.sh)"
bash scripts/check-driver.sh

echo "== the ARM64 CRC-32C engine under qemu-aarch64 (scripts/check-arm64.sh)"
if command -v qemu-aarch64 > /dev/null && command -v aarch64-linux-gnu-gcc > /dev/null; then
    bash scripts/check-arm64.sh
elif [ "${LOGBRIDGE_REQUIRE_TOOLS:-}" = 1 ]; then
    echo "qemu-user or gcc-aarch64-linux-gnu is missing, and LOGBRIDGE_REQUIRE_TOOLS=1 makes that a failure" >&2
    exit 1
else
    echo "skipped: qemu-user and gcc-aarch64-linux-gnu are not installed (see .ci/run)"
fi

echo "== loom models (scripts/loom.sh)"
bash scripts/loom.sh > target/loom.log 2>&1 || { cat target/loom.log; exit 1; }
grep '^loom: ' target/loom.log | sort -u

echo "== fuzzing smoke run (scripts/fuzz.sh smoke)"
if cargo +nightly fuzz --version > /dev/null 2>&1; then
    bash scripts/fuzz.sh smoke
elif [ "${LOGBRIDGE_REQUIRE_TOOLS:-}" = 1 ]; then
    echo "the nightly toolchain or cargo-fuzz is missing, and LOGBRIDGE_REQUIRE_TOOLS=1 makes that a failure" >&2
    exit 1
else
    echo "skipped: the nightly toolchain or cargo-fuzz is not installed (cargo install --locked cargo-fuzz)"
fi

echo "== simulate smoke run (README's main command), and through the driver's own code (--kmdf)"
cargo run --quiet --locked -p logbridge-ctl -- simulate --writes 200 --threads 2 > /dev/null
cargo run --quiet --locked -p logbridge-ctl -- simulate --kmdf --writes 200 --threads 2 > /dev/null

echo "== coverage of the driver's own code on the KMDF model (scripts/coverage.sh)"
bash scripts/coverage.sh

echo "== tests"
if cargo nextest --version > /dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
