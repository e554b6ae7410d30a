#!/usr/bin/env bash
# Runs logbridge-crc32c's tests for aarch64-unknown-linux-gnu under qemu-aarch64 (user mode), so
# that the ARMv8 CRC32C engine (three interleaved lanes of `crc32cx`) runs, not only type-checks:
# once with the crate's own detection (the ID_AA64ISAR0_EL1 read the driver uses; Linux, and
# qemu's user mode, emulate it at EL0) and once with std's. Then runs the `detect` example and
# checks that the ARM64 engine is the one chosen and gives the CRC-32C check value.
#
# Needs Debian's rustc-web, cargo-web and rust-web-src (-Zbuild-std builds std for aarch64),
# qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross; `.ci/run` installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in /usr/bin/rustc /usr/bin/cargo qemu-aarch64 aarch64-linux-gnu-gcc; do
    if ! command -v "$tool" > /dev/null; then
        echo "check-arm64: $tool is not installed (see .ci/run)" >&2
        exit 1
    fi
done
if [ ! -d /usr/aarch64-linux-gnu/lib ]; then
    echo "check-arm64: libc6-dev-arm64-cross is not installed (see .ci/run)" >&2
    exit 1
fi

export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR_ARM64:-target/arm64-check}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
flags=(--quiet --locked -Zbuild-std=std,panic_unwind,panic_abort --target aarch64-unknown-linux-gnu
       -p logbridge-crc32c --config 'profile.dev.panic="unwind"')
echo "check-arm64: logbridge-crc32c's tests under qemu-aarch64, detection by the ID register"
/usr/bin/cargo test "${flags[@]}" --lib
echo "check-arm64: the same, detection by std"
/usr/bin/cargo test "${flags[@]}" --lib --features std
detected=$(/usr/bin/cargo run "${flags[@]}" --example detect)
echo "check-arm64: detect: $detected"
if [ "$detected" != "armv8-crc e3069283" ]; then
    echo "check-arm64: expected the ARMv8 CRC engine and the check value e3069283" >&2
    exit 1
fi
echo "check-arm64: ok"
