#!/usr/bin/env bash
# Type-checks the Windows targets that do not need the WDK, with Debian's Rust 1.96 and its
# library source (packages rustc-web, cargo-web, rust-web-src): rustup's toolchains have no
# Windows standard library here, so `-Zbuild-std` builds it from source.
#
#   logbridge-core: x86_64, i686 and aarch64 Windows (no_std: core and alloc). The error-log limit
#                   differs on x86 (152 bytes), so each target compiles its own constant.
#
# The driver crate itself needs the WDK (wdk-build does not compile on Linux); it is not checked here.
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
echo "check-windows: ok"
