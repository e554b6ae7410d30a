//! Prints the CRC-32C engine this processor gets (`software`, `sse4.2` or `armv8-crc`) and the
//! check value of `123456789` computed with it: `cargo run -p logbridge-crc32c --example detect`.
//! `scripts/check-arm64.sh` runs it under qemu-aarch64 to show the ARM64 engine is the one chosen.

fn main() {
    let engine = logbridge_crc32c::Crc32c::detect();
    println!("{} {:08x}", engine.kind().name(), engine.checksum(b"123456789"));
}
