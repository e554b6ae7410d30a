//! The CRC-32C engines on arbitrary bytes: every engine this processor runs (the SSE4.2 or ARMv8
//! CRC32C instructions with their three-lane loop and join tables, and the software tables) gives
//! the software CRC for the input at every offset into its first word, and extending a CRC with
//! `append` at an input-chosen split gives the CRC of the whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_crc32c::{Crc32c, Crc32cKind, SOFTWARE};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the split point; the rest is the message.
    let Some((&split, message)) = data.split_first() else { return };
    for offset in 0..message.len().min(8) {
        let input = &message[offset..];
        let expected = SOFTWARE.checksum(input);
        let cut = usize::from(split) * input.len() / 255;
        let (a, b) = input.split_at(cut);
        for engine in Crc32cKind::ALL.into_iter().filter_map(Crc32c::with_kind) {
            assert_eq!(engine.checksum(input), expected, "{:?} at offset {offset}", engine.kind());
            assert_eq!(engine.append(engine.checksum(a), b), expected, "{:?} split at {cut}", engine.kind());
        }
    }
});
