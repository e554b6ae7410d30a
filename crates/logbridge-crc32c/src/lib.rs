//! # logbridge-crc32c
//!
//! CRC-32C (Castagnoli: polynomial 0x1EDC6F41, bit-reflected 0x82F63B78, initial value and final
//! XOR all ones; the CRC of iSCSI, ext4 and SSE4.2), the checksum of every LogBridge ring record.
//!
//! Three engines compute it, all with the same result:
//!
//! | [`Crc32cKind`] | How | Where |
//! |---|---|---|
//! | `Software` | slice-by-16 tables (the `crc` crate) | everywhere |
//! | `Sse42` | the SSE4.2 `crc32` instruction | x86-64 processors that report SSE4.2 (CPUID.1:ECX bit 20) |
//! | `ArmV8Crc` | the ARMv8 `crc32cb`/`crc32cx` instructions | ARM64 processors with the CRC32 extension (ID_AA64ISAR0_EL1.CRC32 != 0) |
//!
//! A [`Crc32c`] is an engine that this processor can run: the only ways to get a hardware one are
//! [`Crc32c::detect`], [`Crc32c::detected`] and [`Crc32c::with_kind`], which ask the processor
//! first. So the one `unsafe` call per engine (running an instruction the processor must have) is
//! justified by the type. The driver detects once, at device add, and keeps the engine in its
//! device context; user-mode code uses [`Crc32c::detected`], which detects on first use.
//!
//! # Why these instructions are allowed in kernel mode
//! `crc32 r64, r/m64` (x64) and `crc32cx w, w, x` (ARM64) read and write general-purpose
//! registers only. They touch no x87, MMX, XMM, YMM or NEON register, so none of Microsoft's
//! floating-point rules for drivers ("Using Floating Point in a WDM Driver": x87/MMX not allowed
//! in x64 kernel mode, AVX only after `KeSaveExtendedProcessorState`, which needs
//! IRQL <= DISPATCH_LEVEL) applies: they are legal at any IRQL with nothing saved. Microsoft says
//! nothing about `crc32` by name; this is the inference, and `docs/PERFORMANCE.md` quotes the
//! pages. The crate emits no vector instruction and enables no AVX feature (a VEX-encoded
//! instruction would clear the upper YMM halves, which is AVX state).
//!
//! Detection does not use `ExIsProcessorFeaturePresent`: it is documented for PASSIVE_LEVEL only,
//! and the x64 constant (`PF_SSE4_2_INSTRUCTIONS_AVAILABLE`, 38) is recent. CPUID is an
//! unprivileged instruction; on ARM64 the ID register is readable at EL1.
//!
//! # The interleaved hardware loop
//! One `crc32` instruction takes 8 bytes and has a latency of about 3 cycles, but a processor
//! can start one every cycle. One dependency chain therefore runs at a third of the
//! instruction's throughput. The hardware engines split long inputs into blocks of three equal
//! lanes, run the three chains side by side and join them:
//!
//! ```text
//! reg(s, A || B || C) = shift(shift(reg(s, A), |B|) ^ reg(0, B), |C|) ^ reg(0, C)
//! ```
//!
//! where `reg(s, M)` is the CRC register after feeding `M` from state `s` and `shift(r, n)` is the
//! register after feeding `n` zero bytes from `r` (the CRC is linear in its register, so a chain
//! started from 0 can be joined later). `shift(r, n)` is the carry-less product `r * x^(8n) mod P`,
//! done here with four 256-entry tables per lane length, built at compile time. Lane lengths are
//! 1360, 336, 80 and 24 bytes (blocks of 4080, 1008, 240 and 72 bytes: a 4 KiB write is one block
//! and a 16-byte tail, a 1 KiB write one block and 16 bytes); what is left after the blocks runs
//! in one chain. `docs/PERFORMANCE.md` has the measurements behind the choice.

#![no_std]
// The join tables and the interleaved loop serve the hardware engines, which 32-bit x86 (among
// the driver's targets) does not get: there only the software engine is compiled in.
#![cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code, unused_macros))]
// Tests may index, unwrap and cast freely; the library code is linted without this.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

#[cfg(any(test, feature = "std"))]
extern crate std;

use core::sync::atomic::{AtomicU8, Ordering};
use crc::{CRC_32_ISCSI, Crc, Table};

/// The software CRC-32C: slice-by-16 tables (16 KiB), about 4 bytes per nanosecond.
pub static SOFTWARE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// How a [`Crc32c`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Crc32cKind {
    /// Slice-by-16 tables; runs on every processor.
    Software,
    /// The SSE4.2 `crc32` instruction (x86-64).
    Sse42,
    /// The ARMv8 CRC32 extension's `crc32c*` instructions (ARM64).
    ArmV8Crc,
}

impl Crc32cKind {
    /// Every kind, software first.
    pub const ALL: [Crc32cKind; 3] = [Crc32cKind::Software, Crc32cKind::Sse42, Crc32cKind::ArmV8Crc];

    /// A short name for reports: `software`, `sse4.2`, `armv8-crc`.
    pub const fn name(self) -> &'static str {
        match self {
            Crc32cKind::Software => "software",
            Crc32cKind::Sse42 => "sse4.2",
            Crc32cKind::ArmV8Crc => "armv8-crc",
        }
    }

    /// True if this processor can run this kind.
    pub fn is_supported(self) -> bool {
        match self {
            Crc32cKind::Software => true,
            Crc32cKind::Sse42 => sse42_present(),
            Crc32cKind::ArmV8Crc => arm_crc_present(),
        }
    }

    const fn code(self) -> u8 {
        match self {
            Crc32cKind::Software => 1,
            Crc32cKind::Sse42 => 2,
            Crc32cKind::ArmV8Crc => 3,
        }
    }
}

/// A CRC-32C engine this processor can run. `Copy`, one byte: keep it where it was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Crc32c {
    // Invariant: `kind.is_supported()` was true when this value was made.
    kind: Crc32cKind,
}

/// [`Crc32c::detected`]'s choice: 0 until the first call, then [`Crc32cKind::code`].
static DETECTED: AtomicU8 = AtomicU8::new(0);

impl Crc32c {
    /// The software engine.
    pub const SOFTWARE: Crc32c = Crc32c { kind: Crc32cKind::Software };

    /// Asks the processor (CPUID on x86-64; the ID register, or std's detection with the `std`
    /// feature, on ARM64) and returns the fastest engine it can run. Call it once and keep the
    /// result: under a hypervisor CPUID can cost microseconds.
    pub fn detect() -> Crc32c {
        [Crc32cKind::Sse42, Crc32cKind::ArmV8Crc]
            .into_iter()
            .find(|kind| kind.is_supported())
            .map_or(Crc32c::SOFTWARE, |kind| Crc32c { kind })
    }

    /// [`Crc32c::detect`], done once per process (or driver image) and remembered.
    pub fn detected() -> Crc32c {
        let code = DETECTED.load(Ordering::Relaxed);
        let known = Crc32cKind::ALL.into_iter().find(|kind| kind.code() == code);
        if let Some(kind) = known {
            return Crc32c { kind };
        }
        let engine = Crc32c::detect();
        // Every caller detects the same thing, so a race only repeats the question.
        DETECTED.store(engine.kind.code(), Ordering::Relaxed);
        engine
    }

    /// The engine of `kind`, if this processor can run it (for tests and benchmarks that compare
    /// engines).
    pub fn with_kind(kind: Crc32cKind) -> Option<Crc32c> {
        kind.is_supported().then_some(Crc32c { kind })
    }

    /// Which engine this is.
    pub const fn kind(self) -> Crc32cKind {
        self.kind
    }

    /// CRC-32C of `bytes`.
    pub fn checksum(self, bytes: &[u8]) -> u32 {
        self.append(0, bytes)
    }

    /// Extends a finished CRC-32C: `append(checksum(a), b) == checksum(a ++ b)`, and
    /// `append(0, b) == checksum(b)`.
    pub fn append(self, crc: u32, bytes: &[u8]) -> u32 {
        match self.kind {
            Crc32cKind::Software => {
                // `crc` wants the register's initial value unreflected; the register holds the
                // complement of a finished CRC.
                let mut digest = SOFTWARE.digest_with_initial((!crc).reverse_bits());
                digest.update(bytes);
                digest.finalize()
            }
            Crc32cKind::Sse42 => !sse42_update(!crc, bytes),
            Crc32cKind::ArmV8Crc => !arm_crc_update(!crc, bytes),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Joining chains: shift(r, n) = r * x^(8n) mod P, with tables built at compile time.

/// The bit-reflected CRC-32C polynomial.
const POLY_REFLECTED: u32 = 0x82F6_3B78;
/// x^0 in the reflected representation (bit 31 is the coefficient of x^0).
const X0: u32 = 0x8000_0000;
/// x^8.
const X8: u32 = 0x0080_0000;

/// `a * b mod P` over GF(2), both bit-reflected (zlib's `multmodp`).
const fn multiply(a: u32, mut b: u32) -> u32 {
    let mut product = 0u32;
    let mut bit = 0u32;
    while bit < 32 {
        if a & (X0 >> bit) != 0 {
            product ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY_REFLECTED } else { b >> 1 };
        bit = bit.wrapping_add(1);
    }
    product
}

/// `x^(8 n) mod P`: what feeding `n` zero bytes multiplies the register by.
const fn x_pow_8n(n: usize) -> u32 {
    let mut power = X0;
    let mut i = 0usize;
    while i < n {
        power = multiply(power, X8);
        i = i.wrapping_add(1);
    }
    power
}

/// `shift(r, n)` for one `n`: `shift(r) = t[0][r0] ^ t[1][r1] ^ t[2][r2] ^ t[3][r3]` over the four
/// bytes of `r`, since the shift is linear in `r`.
struct Shift([[u32; 256]; 4]);

impl Shift {
    // Only evaluated at compile time (the tables are in a `static`): an index out of bounds would
    // stop the build, never a running driver.
    #[allow(clippy::indexing_slicing)]
    const fn new(bytes: usize) -> Shift {
        let power = x_pow_8n(bytes);
        let mut tables = [[0u32; 256]; 4];
        let mut byte = 0usize;
        while byte < 4 {
            let mut value = 0usize;
            while value < 256 {
                // `value < 256` and `byte < 4`: the casts are exact and the shift stays within 32 bits.
                #[allow(clippy::cast_possible_truncation)]
                let term = (value as u32).wrapping_shl(byte.wrapping_mul(8) as u32);
                tables[byte][value] = multiply(power, term);
                value = value.wrapping_add(1);
            }
            byte = byte.wrapping_add(1);
        }
        Shift(tables)
    }

    #[inline(always)]
    fn apply(&self, register: u32) -> u32 {
        let [b0, b1, b2, b3] = register.to_le_bytes();
        let [t0, t1, t2, t3] = &self.0;
        // A u8 always indexes a 256-entry table: the `get`s cannot fail and compile to loads.
        let look = |table: &[u32; 256], b: u8| table.get(usize::from(b)).copied().unwrap_or(0);
        look(t0, b0) ^ look(t1, b1) ^ look(t2, b2) ^ look(t3, b3)
    }
}

/// One lane length of the interleaved loop and its join table.
struct Lane {
    /// Bytes per lane (a multiple of 8).
    bytes: usize,
    /// Bytes per block of three lanes.
    block: usize,
    shift: Shift,
}

impl Lane {
    const fn new(bytes: usize) -> Lane {
        Lane { bytes, block: bytes.wrapping_mul(3), shift: Shift::new(bytes) }
    }
}

/// The lane lengths, longest first (16 KiB of tables in all).
static LANES: [Lane; 4] = [Lane::new(1360), Lane::new(336), Lane::new(80), Lane::new(24)];

/// Eight bytes, little-endian (the order the reflected CRC consumes them).
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
}

/// The interleaved update of a CRC register, over one architecture's 8-byte and 1-byte steps.
/// Expanded inside each architecture's `#[target_feature]` function, so the steps inline there.
macro_rules! interleaved_update {
    ($state:expr, $bytes:expr, $step8:ident, $step1:ident) => {{
        let mut state: u32 = $state;
        let mut rest: &[u8] = $bytes;
        for lane in &LANES {
            while let Some((block, after)) = rest.split_at_checked(lane.block) {
                let Some((a, bc)) = block.split_at_checked(lane.bytes) else { break };
                let Some((b, c)) = bc.split_at_checked(lane.bytes) else { break };
                let (mut sa, mut sb, mut sc) = (state, 0u32, 0u32);
                for ((wa, wb), wc) in a.chunks_exact(8).zip(b.chunks_exact(8)).zip(c.chunks_exact(8)) {
                    sa = $step8(sa, word(wa));
                    sb = $step8(sb, word(wb));
                    sc = $step8(sc, word(wc));
                }
                state = lane.shift.apply(lane.shift.apply(sa) ^ sb) ^ sc;
                rest = after;
            }
        }
        let mut words = rest.chunks_exact(8);
        for w in &mut words {
            state = $step8(state, word(w));
        }
        for &byte in words.remainder() {
            state = $step1(state, byte);
        }
        state
    }};
}

// ---------------------------------------------------------------------------------------------
// x86-64: SSE4.2

#[cfg(target_arch = "x86_64")]
mod sse42 {
    use super::{LANES, word};
    use core::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};

    #[inline]
    #[target_feature(enable = "sse4.2")]
    fn step8(state: u32, data: u64) -> u32 {
        // `crc32 r64, r/m64` zero-extends its 32-bit result: the truncation drops only zeros.
        #[allow(clippy::cast_possible_truncation)]
        let next = _mm_crc32_u64(u64::from(state), data) as u32;
        next
    }

    #[inline]
    #[target_feature(enable = "sse4.2")]
    fn step1(state: u32, data: u8) -> u32 {
        _mm_crc32_u8(state, data)
    }

    /// The CRC register after feeding `bytes` from `state`.
    #[target_feature(enable = "sse4.2")]
    pub(super) fn update(state: u32, bytes: &[u8]) -> u32 {
        interleaved_update!(state, bytes, step8, step1)
    }

    /// CPUID.1:ECX bit 20 (SSE4.2).
    pub(super) fn present() -> bool {
        // SAFETY: CPUID leaf 1 exists on every x86-64 processor, and CPUID only reads
        // identification registers (it is allowed at any IRQL and privilege level). Newer
        // compilers declare `__cpuid` safe, hence the allow.
        #[allow(unused_unsafe)]
        let leaf1 = unsafe { core::arch::x86_64::__cpuid(1) };
        leaf1.ecx & (1 << 20) != 0
    }
}

#[cfg(target_arch = "x86_64")]
fn sse42_present() -> bool {
    sse42::present()
}

#[cfg(not(target_arch = "x86_64"))]
fn sse42_present() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn sse42_update(state: u32, bytes: &[u8]) -> u32 {
    // SAFETY: `Crc32cKind::Sse42` is only ever stored in a `Crc32c` after `sse42_present()`
    // returned true, so this processor has the SSE4.2 instructions `update` is compiled for.
    unsafe { sse42::update(state, bytes) }
}

#[cfg(not(target_arch = "x86_64"))]
fn sse42_update(state: u32, bytes: &[u8]) -> u32 {
    // Unreachable: an Sse42 engine cannot be made here. Stay correct anyway.
    !Crc32c::SOFTWARE.append(!state, bytes)
}

// ---------------------------------------------------------------------------------------------
// ARM64: the CRC32 extension

#[cfg(target_arch = "aarch64")]
mod armv8 {
    use super::{LANES, word};
    use core::arch::aarch64::{__crc32cb, __crc32cd};

    #[inline]
    #[target_feature(enable = "crc")]
    fn step8(state: u32, data: u64) -> u32 {
        __crc32cd(state, data)
    }

    #[inline]
    #[target_feature(enable = "crc")]
    fn step1(state: u32, data: u8) -> u32 {
        __crc32cb(state, data)
    }

    /// The CRC register after feeding `bytes` from `state`.
    #[target_feature(enable = "crc")]
    pub(super) fn update(state: u32, bytes: &[u8]) -> u32 {
        interleaved_update!(state, bytes, step8, step1)
    }

    /// ID_AA64ISAR0_EL1.CRC32 (bits 19:16) != 0, or std's detection in user mode.
    pub(super) fn present() -> bool {
        #[cfg(feature = "std")]
        {
            std::arch::is_aarch64_feature_detected!("crc")
        }
        #[cfg(not(feature = "std"))]
        {
            let isar0: u64;
            // SAFETY: reading ID_AA64ISAR0_EL1 has no side effects and is allowed at EL1, where
            // kernel-mode code runs (the crate without `std` is for the driver).
            unsafe {
                core::arch::asm!("mrs {}, ID_AA64ISAR0_EL1", out(reg) isar0, options(nomem, nostack, preserves_flags));
            }
            (isar0 >> 16) & 0xF != 0
        }
    }
}

#[cfg(target_arch = "aarch64")]
fn arm_crc_present() -> bool {
    armv8::present()
}

#[cfg(not(target_arch = "aarch64"))]
fn arm_crc_present() -> bool {
    false
}

#[cfg(target_arch = "aarch64")]
fn arm_crc_update(state: u32, bytes: &[u8]) -> u32 {
    // SAFETY: `Crc32cKind::ArmV8Crc` is only ever stored in a `Crc32c` after
    // `arm_crc_present()` returned true, so this processor has the CRC32 instructions.
    unsafe { armv8::update(state, bytes) }
}

#[cfg(not(target_arch = "aarch64"))]
fn arm_crc_update(state: u32, bytes: &[u8]) -> u32 {
    // Unreachable: an ArmV8Crc engine cannot be made here. Stay correct anyway.
    !Crc32c::SOFTWARE.append(!state, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn engines() -> Vec<Crc32c> {
        Crc32cKind::ALL.into_iter().filter_map(Crc32c::with_kind).collect()
    }

    /// Deterministic bytes (xorshift), so failures reproduce.
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn check_values() {
        for engine in engines() {
            assert_eq!(engine.checksum(b"123456789"), 0xE306_9283, "{:?}", engine.kind());
            assert_eq!(engine.checksum(b""), 0);
            assert_eq!(engine.checksum(&[0u8; 32]), 0x8A91_36AA, "RFC 3720 B.4: 32 bytes of zeros");
            assert_eq!(engine.checksum(&[0xFFu8; 32]), 0x62A8_AB43, "RFC 3720 B.4: 32 bytes of ones");
            let ascending: Vec<u8> = (0u8..32).collect();
            assert_eq!(engine.checksum(&ascending), 0x46DD_794E, "RFC 3720 B.4: ascending");
        }
    }

    #[test]
    fn detection_agrees_with_std_and_this_machine_has_a_hardware_engine_where_expected() {
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(Crc32cKind::Sse42.is_supported(), std::is_x86_feature_detected!("sse4.2"));
            assert!(!Crc32cKind::ArmV8Crc.is_supported());
        }
        #[cfg(target_arch = "aarch64")]
        {
            assert_eq!(Crc32cKind::ArmV8Crc.is_supported(), std::arch::is_aarch64_feature_detected!("crc"));
            assert!(!Crc32cKind::Sse42.is_supported());
        }
        assert!(Crc32cKind::Software.is_supported());
        let detected = Crc32c::detect();
        assert_eq!(Crc32c::detected(), detected);
        assert_eq!(Crc32c::detected(), detected, "the remembered choice");
        assert!(detected.kind().is_supported());
        if Crc32cKind::Sse42.is_supported() || Crc32cKind::ArmV8Crc.is_supported() {
            assert_ne!(detected.kind(), Crc32cKind::Software, "a hardware engine is preferred");
        }
    }

    #[test]
    fn the_join_tables_equal_feeding_zeros() {
        let software = Crc32c::SOFTWARE;
        for lane in &LANES {
            for register in [1u32, 0x8000_0000, 0xDEAD_BEEF, 0xFFFF_FFFF, 0x1234_5678] {
                // Feeding zeros from register r: the finished CRC is the complement of the register.
                let fed = !software.append(!register, &std::vec![0u8; lane.bytes]);
                assert_eq!(lane.shift.apply(register), fed, "lane {} register {register:#x}", lane.bytes);
                assert_eq!(multiply(register, x_pow_8n(lane.bytes)), fed);
            }
        }
    }

    /// Every length up to past the second-longest block, and around the longest ones, at every
    /// alignment in a word, in every engine: every block threshold (72, 240, 1008, 4080 bytes),
    /// every combination of shorter blocks and every tail length is covered.
    #[test]
    fn every_engine_equals_software_over_lengths_and_alignments() {
        let data = bytes(3 * 1360 * 4 + 64, 0x5EED);
        for engine in engines() {
            for offset in 0..8 {
                let around_long_blocks = [4079, 4080, 4081, 4096, 5088, 8159, 8160, 8161, 12240, 16320];
                for len in (0..=3200).chain(around_long_blocks) {
                    let input = &data[offset..offset + len];
                    assert_eq!(
                        engine.checksum(input),
                        SOFTWARE.checksum(input),
                        "{:?} offset {offset} len {len}",
                        engine.kind()
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn engines_agree_and_append_is_concatenation(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            split in any::<prop::sample::Index>(),
            offset in 0usize..16,
        ) {
            let data = data.get(offset.min(data.len())..).unwrap();
            let expected = SOFTWARE.checksum(data);
            let cut = split.index(data.len() + 1);
            let (a, b) = data.split_at(cut);
            for engine in engines() {
                prop_assert_eq!(engine.checksum(data), expected);
                prop_assert_eq!(engine.append(engine.checksum(a), b), expected);
                prop_assert_eq!(Crc32c::SOFTWARE.append(engine.checksum(a), b), expected);
            }
        }
    }
}
