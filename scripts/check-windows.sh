#!/usr/bin/env bash
# Type-checks the Windows targets that do not need the WDK, with Debian's Rust 1.96 and its
# library source (packages rustc-web, cargo-web, rust-web-src): rustup's toolchains have no
# Windows standard library here, so `-Zbuild-std` builds it from source.
#
#   logbridge-core: x86_64, i686 and aarch64 Windows (no_std: core and alloc). The error-log limit
#                   differs on x86 (152 bytes), so each target compiles its own constant.
#   logbridge-ctl:  x86_64 Windows, every target (the app and its tests), with its Windows-only
#                   half (src/win: the `windows` and `wmi` crates), then clippy with -D warnings, so
#                   the Windows code is held to the same lints as the rest. std is built from
#                   source; the test harness needs unwinding, hence panic = "unwind" for this check.
#
# The driver crate itself needs the WDK (wdk-build does not compile on Linux); scripts/check-driver.sh
# checks it against a transcription of wdk-sys.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
    echo "check-windows: Debian's rustc-web, cargo-web and rust-web-src are not installed (see .ci/run)" >&2
    exit 1
fi

export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR_WINDOWS:-target/windows-check}"
for target in x86_64-pc-windows-msvc i686-pc-windows-msvc aarch64-pc-windows-msvc; do
    echo "check-windows: logbridge-core for $target"
    /usr/bin/cargo check --quiet --locked -Zbuild-std=core,alloc --target "$target" -p logbridge-core
done
# The CRC-32C crate holds the only unsafe code outside the driver (SSE4.2 and CPUID on x64, the
# ARMv8 CRC instructions and the ID register on ARM64): lint it for every driver target, without
# std, with its [lints] (the workspace's kernel lints) and -D warnings.
if [ -x /usr/bin/cargo-clippy ]; then
    for target in x86_64-pc-windows-msvc i686-pc-windows-msvc aarch64-pc-windows-msvc; do
        echo "check-windows: logbridge-crc32c for $target (clippy -D warnings)"
        PATH="/usr/bin:$PATH" /usr/bin/cargo clippy --quiet --locked -Zbuild-std=core,alloc --target "$target" \
            -p logbridge-crc32c -- -D warnings
    done
fi
# Debian's clippy (its clippy-driver matches /usr/bin/rustc), found first on PATH.
export PATH="/usr/bin:$PATH"
ctl_flags=(--quiet --locked -Zbuild-std=std,panic_unwind,panic_abort --target x86_64-pc-windows-msvc -p logbridge-ctl
           --all-targets --config 'profile.dev.panic="unwind"')
echo "check-windows: logbridge-ctl for x86_64-pc-windows-msvc (check)"
/usr/bin/cargo check "${ctl_flags[@]}"
if [ -x /usr/bin/cargo-clippy ]; then
    echo "check-windows: logbridge-ctl for x86_64-pc-windows-msvc (clippy -D warnings)"
    /usr/bin/cargo clippy "${ctl_flags[@]}" -- -D warnings
elif [ "${LOGBRIDGE_REQUIRE_TOOLS:-}" = 1 ]; then
    echo "check-windows: Debian's rust-web-clippy is missing, and LOGBRIDGE_REQUIRE_TOOLS=1 makes that a failure" >&2
    exit 1
else
    echo "check-windows: skipped clippy of logbridge-ctl for Windows: rust-web-clippy is not installed"
fi
echo "check-windows: ok"
