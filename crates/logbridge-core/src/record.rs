//! The ring log's record format and the streaming decoder that recovers records from any byte
//! stream: a `READ_LOG` response, a dump of the ring, or a torn or corrupted copy of either.
//!
//! # Record layout (little-endian, 8-byte aligned)
//! ```text
//!  0  [u8; 4]  marker "LBR1"
//!  4  u32      payload length in bytes
//!  8  u64      sequence number (64-bit, never reused)
//! 16  u64      timestamp, 100 ns since 1601 (KeQuerySystemTime)
//! 24  u32      process id of the writer
//! 28  u32      CRC-32C of payload || header bytes 0..28
//! 32  payload, then zero padding to a multiple of 8
//! ```
//!
//! The NDIS log is a byte stream that "does not recognize boundaries between log records"; readers
//! find them by markers. A marker can also occur inside a payload, so a marker alone proves
//! nothing: a record is accepted only when its length is plausible, all of it is present and the
//! CRC-32C over payload and header matches. The CRC covers the payload first so that the driver can
//! checksum the payload before it takes the ring lock and finish with the 28 header bytes inside it.
//!
//! # Decoding
//! [`decode_next`] looks at the front of a buffer and says what is there: a whole valid record, bytes
//! to skip (garbage before the next marker, a torn record, or a record whose checksum fails), or
//! that more input is needed. It never reads outside the buffer and never panics.

use crate::time::FileTime;
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The marker at the start of every record.
pub const RECORD_MAGIC: [u8; 4] = *b"LBR1";
/// Size of the record header.
pub const RECORD_HEADER_SIZE: usize = 32;
/// Records start and end on multiples of this.
pub const RECORD_ALIGN: usize = 8;
/// The largest payload a decoder believes (16 MiB). The driver's `MaxWriteSize` is capped by it.
pub const MAX_RECORD_PAYLOAD: u32 = 16 << 20;
/// Bytes of the header covered by the CRC.
const CRC_COVERED_HEADER: usize = 28;

/// CRC-32C (Castagnoli, the iSCSI polynomial) in software, slice-by-16.
pub use logbridge_crc32c::SOFTWARE as CRC32C;
pub use logbridge_crc32c::{Crc32c, Crc32cKind};

/// CRC-32C of `bytes`, with the engine this process detected on first use (the processor's
/// CRC32C instructions where it has them). The driver's write path uses the engine chosen at
/// device add instead, through [`crate::kernel::Kernel::crc32c`].
pub fn crc32c(bytes: &[u8]) -> u32 {
    Crc32c::detected().checksum(bytes)
}

/// Extends a finished CRC-32C: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_append(crc: u32, bytes: &[u8]) -> u32 {
    Crc32c::detected().append(crc, bytes)
}

/// The wire form of a record header.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawRecordHeader {
    /// [`RECORD_MAGIC`].
    pub magic: [u8; 4],
    /// Payload length.
    pub length: U32,
    /// Sequence number.
    pub sequence: U64,
    /// Timestamp.
    pub timestamp: U64,
    /// Process id.
    pub process_id: U32,
    /// CRC-32C.
    pub crc: U32,
}

const _: () = assert!(core::mem::size_of::<RawRecordHeader>() == RECORD_HEADER_SIZE);

/// A decoded record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload length.
    pub length: u32,
    /// Sequence number.
    pub sequence: u64,
    /// When the write arrived.
    pub timestamp: FileTime,
    /// Who wrote it.
    pub process_id: u32,
    /// The stored CRC-32C.
    pub crc: u32,
}

impl RecordHeader {
    /// Reads a header from the first 32 bytes, if they start with the marker and give a plausible length.
    pub fn parse(bytes: &[u8]) -> Option<RecordHeader> {
        let (raw, _) = RawRecordHeader::read_from_prefix(bytes).ok()?;
        Some(RecordHeader {
            length: declared_length(bytes)?,
            sequence: raw.sequence.get(),
            timestamp: FileTime(raw.timestamp.get()),
            process_id: raw.process_id.get(),
            crc: raw.crc.get(),
        })
    }

    /// Size of the whole record (header, payload, padding).
    pub fn record_size(&self) -> usize {
        // length <= MAX_RECORD_PAYLOAD, so this cannot overflow.
        record_size(usize::try_from(self.length).unwrap_or(usize::MAX)).unwrap_or(usize::MAX)
    }
}

/// The payload length declared by the record that `bytes` start with: `None` unless they start
/// with the marker and a plausible length (at most [`MAX_RECORD_PAYLOAD`]). Reads 8 bytes; the
/// ring drops its oldest record by this alone.
pub fn declared_length(bytes: &[u8]) -> Option<u32> {
    let (magic, rest) = bytes.split_first_chunk::<4>()?;
    let (length, _) = rest.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length);
    (*magic == RECORD_MAGIC && length <= MAX_RECORD_PAYLOAD).then_some(length)
}

/// Size of a record with `payload_len` payload bytes, or `None` if it does not fit the format.
pub const fn record_size(payload_len: usize) -> Option<usize> {
    if payload_len > MAX_RECORD_PAYLOAD as usize {
        return None;
    }
    // payload_len <= 16 MiB, so neither addition can overflow.
    match payload_len.checked_add(RECORD_HEADER_SIZE + RECORD_ALIGN - 1) {
        Some(padded) => Some(padded & !(RECORD_ALIGN - 1)),
        None => None,
    }
}

/// The reflected CRC-32C polynomial.
const CRC32C_POLY_REFLECTED: u32 = 0x82F6_3B78;
/// Offset of the sequence number in the header, and header bytes the CRC covers after it.
const SEQUENCE_OFFSET: usize = 8;
const COVERED_AFTER_SEQUENCE: usize = CRC_COVERED_HEADER - SEQUENCE_OFFSET - 8;

/// `SEQUENCE_CRC[i][b]`: what byte `i` of the sequence number, with value `b`, contributes to a
/// record's CRC.
///
/// CRC-32C is affine over GF(2): for two messages of the same length,
/// `crc(a) ^ crc(b) == crc0(a ^ b)`, where `crc0` is the CRC with zero initial value and no final
/// XOR (leading zero bytes leave its register at zero). A record's CRC covers `payload || header`,
/// and two headers that differ only in the sequence number differ in 8 bytes followed by the 12
/// covered bytes of timestamp and process id. So
/// `crc(payload || header(seq)) == crc(payload || header(0)) ^ crc0(seq bytes || 12 zero bytes)`,
/// and the second term is the XOR of one table entry per sequence byte. [`PreparedRecord`]
/// computes the first term before the ring lock is taken; only the eight lookups happen under it.
static SEQUENCE_CRC: [[u32; 256]; 8] = sequence_crc_tables();

// Evaluated only at compile time (for `SEQUENCE_CRC`): an overflow or a bad index there is a
// compile error, never a panic in the driver.
#[allow(clippy::arithmetic_side_effects)]
const fn crc0_update(mut crc: u32, byte: u8) -> u32 {
    crc ^= byte as u32;
    let mut bit = 0;
    while bit < 8 {
        crc = if crc & 1 == 1 { (crc >> 1) ^ CRC32C_POLY_REFLECTED } else { crc >> 1 };
        bit += 1;
    }
    crc
}

// Evaluated only at compile time, like `crc0_update`.
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::indexing_slicing)]
const fn sequence_crc_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut position = 0;
    while position < 8 {
        let mut value = 0;
        while value < 256 {
            let mut crc = 0u32;
            let mut i = 0;
            while i < 8 + COVERED_AFTER_SEQUENCE {
                let byte = if i == position { value as u8 } else { 0 };
                crc = crc0_update(crc, byte);
                i += 1;
            }
            tables[position][value] = crc;
            value += 1;
        }
        position += 1;
    }
    tables
}

/// The sequence number's contribution to a record's CRC (see [`SEQUENCE_CRC`]).
fn sequence_crc(sequence: u64) -> u32 {
    let mut crc = 0;
    for (table, byte) in SEQUENCE_CRC.iter().zip(sequence.to_le_bytes()) {
        crc ^= table.get(usize::from(byte)).copied().unwrap_or(0);
    }
    crc
}

/// A write's payload with everything that can be computed before the ring lock is taken,
/// including the record's CRC for sequence number 0.
#[derive(Clone, Debug)]
pub struct PreparedRecord<'a> {
    payload: &'a [u8],
    header: RawRecordHeader,
    size: usize,
}

impl<'a> PreparedRecord<'a> {
    /// Checksums the payload with [`Crc32c::detected`]. `None` if the payload is larger than the
    /// format allows.
    pub fn new(payload: &'a [u8], timestamp: FileTime, process_id: u32) -> Option<Self> {
        Self::with_crc32c(payload, timestamp, process_id, Crc32c::detected())
    }

    /// Checksums the payload and the header (for sequence number 0) with `engine`, in one chain:
    /// the record's CRC covers `payload || header bytes 0..28`.
    pub fn with_crc32c(payload: &'a [u8], timestamp: FileTime, process_id: u32, engine: Crc32c) -> Option<Self> {
        let size = record_size(payload.len())?;
        let mut header = RawRecordHeader {
            magic: RECORD_MAGIC,
            length: U32::new(u32::try_from(payload.len()).ok()?),
            sequence: U64::new(0),
            timestamp: U64::new(timestamp.0),
            process_id: U32::new(process_id),
            crc: U32::new(0),
        };
        let covered = header.as_bytes().get(..CRC_COVERED_HEADER).unwrap_or(&[]);
        header.crc = U32::new(engine.append(engine.checksum(payload), covered));
        Some(PreparedRecord { payload, header, size })
    }

    /// Size of the record in the ring.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The payload.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The 32 header bytes for this record with sequence number `sequence` (CRC included).
    /// Cheap: eight table lookups (this runs under the ring lock).
    pub fn header_bytes(&self, sequence: u64) -> [u8; RECORD_HEADER_SIZE] {
        let mut bytes = [0u8; RECORD_HEADER_SIZE];
        self.write_header(sequence, &mut bytes);
        bytes
    }

    /// Writes [`Self::header_bytes`] into the first 32 bytes of `dst` (nothing if it is
    /// shorter) as four 8-byte stores, straight into the ring: a header assembled on the stack
    /// and copied would be read back across the stores that built it, which stalls store
    /// forwarding, under the lock.
    pub fn write_header(&self, sequence: u64, dst: &mut [u8]) {
        let raw = &self.header;
        let crc = raw.crc.get() ^ sequence_crc(sequence);
        let words = [
            u64::from(u32::from_le_bytes(raw.magic)) | (u64::from(raw.length.get()) << 32),
            sequence,
            raw.timestamp.get(),
            u64::from(raw.process_id.get()) | (u64::from(crc) << 32),
        ];
        if let Some(header) = dst.get_mut(..RECORD_HEADER_SIZE) {
            for (slot, word) in header.chunks_exact_mut(8).zip(words) {
                slot.copy_from_slice(&word.to_le_bytes());
            }
        }
    }
}

/// The CRC a record with this header and payload must carry.
pub fn record_crc(header: &[u8], payload: &[u8]) -> Option<u32> {
    Some(crc32c_append(crc32c(payload), header.get(..CRC_COVERED_HEADER)?))
}

/// A valid record inside a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Its header.
    pub header: RecordHeader,
    /// Its payload.
    pub payload: &'a [u8],
}

/// Why bytes were skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Bytes before the next marker (the torn tail of an overwritten record, or noise).
    NoMarker,
    /// A marker with an implausible length, or a record cut off at the end of the input.
    Incomplete,
    /// A whole record whose CRC does not match: corrupt.
    BadChecksum,
}

/// What [`decode_next`] found at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeStep<'a> {
    /// A valid record; `consumed` bytes (record and padding) are done.
    Record {
        /// The record.
        record: RecordView<'a>,
        /// Bytes to advance.
        consumed: usize,
    },
    /// `bytes` bytes are not (the start of) a valid record.
    Skip {
        /// Bytes to advance.
        bytes: usize,
        /// Why.
        reason: SkipReason,
    },
    /// The buffer ends inside what may be a record: call again with more input (or `at_end`).
    NeedMore,
}

/// Decodes the front of `buf`. With `at_end` the input is complete, so a cut-off record is
/// skipped instead of waited for. Returns `None` for an empty buffer.
pub fn decode_next(buf: &[u8], at_end: bool) -> Option<DecodeStep<'_>> {
    if buf.is_empty() {
        return None;
    }
    let Some(start) = memchr::memmem::find(buf, &RECORD_MAGIC) else {
        // Keep a possible partial marker at the end unless the input is complete.
        let keep = if at_end { 0 } else { RECORD_MAGIC.len().saturating_sub(1).min(buf.len()) };
        let bytes = buf.len().saturating_sub(keep);
        return Some(if bytes == 0 {
            DecodeStep::NeedMore
        } else {
            DecodeStep::Skip { bytes, reason: SkipReason::NoMarker }
        });
    };
    if start > 0 {
        return Some(DecodeStep::Skip { bytes: start, reason: SkipReason::NoMarker });
    }
    if buf.len() < RECORD_HEADER_SIZE {
        return Some(if at_end {
            DecodeStep::Skip { bytes: 1, reason: SkipReason::Incomplete }
        } else {
            DecodeStep::NeedMore
        });
    }
    let Some(header) = RecordHeader::parse(buf) else {
        return Some(DecodeStep::Skip { bytes: 1, reason: SkipReason::Incomplete });
    };
    let size = header.record_size();
    let payload_end = RECORD_HEADER_SIZE.saturating_add(usize::try_from(header.length).unwrap_or(usize::MAX));
    let (Some(head), Some(payload)) = (buf.get(..RECORD_HEADER_SIZE), buf.get(RECORD_HEADER_SIZE..payload_end)) else {
        return Some(if at_end {
            DecodeStep::Skip { bytes: 1, reason: SkipReason::Incomplete }
        } else {
            DecodeStep::NeedMore
        });
    };
    if record_crc(head, payload) != Some(header.crc) {
        return Some(DecodeStep::Skip { bytes: 1, reason: SkipReason::BadChecksum });
    }
    if !at_end && buf.len() < size {
        // Wait for the padding too, so that where the input was cut changes nothing.
        return Some(DecodeStep::NeedMore);
    }
    // The padding may be missing at the very end of a complete input; consume what is there.
    let consumed = size.min(buf.len());
    Some(DecodeStep::Record { record: RecordView { header, payload }, consumed })
}

/// Running totals of a decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeTotals {
    /// Valid records found.
    pub records: u64,
    /// Bytes that were not part of a valid record.
    pub bytes_skipped: u64,
    /// Whole records whose checksum failed.
    pub corrupt: u64,
}

/// Iterates the valid records of a complete buffer, counting what it skips.
#[derive(Clone, Debug)]
pub struct RecordDecoder<'a> {
    rest: &'a [u8],
    totals: DecodeTotals,
}

impl<'a> RecordDecoder<'a> {
    /// A decoder over a complete input.
    pub fn new(input: &'a [u8]) -> Self {
        RecordDecoder { rest: input, totals: DecodeTotals::default() }
    }

    /// What was found and skipped so far.
    pub fn totals(&self) -> DecodeTotals {
        self.totals
    }
}

impl<'a> Iterator for RecordDecoder<'a> {
    type Item = RecordView<'a>;

    fn next(&mut self) -> Option<RecordView<'a>> {
        loop {
            let step = decode_next(self.rest, true)?;
            let advance = match step {
                DecodeStep::Record { consumed, .. } => consumed,
                DecodeStep::Skip { bytes, .. } => bytes,
                DecodeStep::NeedMore => self.rest.len(),
            };
            self.rest = self.rest.get(advance..).unwrap_or(&[]);
            match step {
                DecodeStep::Record { record, .. } => {
                    self.totals.records = self.totals.records.saturating_add(1);
                    return Some(record);
                }
                DecodeStep::Skip { bytes, reason } => {
                    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
                    self.totals.bytes_skipped = self.totals.bytes_skipped.saturating_add(bytes);
                    if reason == SkipReason::BadChecksum {
                        self.totals.corrupt = self.totals.corrupt.saturating_add(1);
                    }
                }
                DecodeStep::NeedMore => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    pub(crate) fn encode(sequence: u64, payload: &[u8]) -> Vec<u8> {
        let prepared = PreparedRecord::new(payload, FileTime(1000 + sequence), 77).unwrap();
        let mut out = prepared.header_bytes(sequence).to_vec();
        out.extend_from_slice(payload);
        out.resize(prepared.size(), 0);
        out
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c_append(crc32c(b"1234"), b"56789"), 0xE306_9283);
        assert_eq!(crc32c_append(0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn every_engine_makes_the_same_record() {
        let payload = b"computed by every engine this processor has";
        let reference = PreparedRecord::with_crc32c(payload, FileTime(5), 6, Crc32c::SOFTWARE).unwrap();
        for engine in Crc32cKind::ALL.into_iter().filter_map(Crc32c::with_kind) {
            let prepared = PreparedRecord::with_crc32c(payload, FileTime(5), 6, engine).unwrap();
            assert_eq!(prepared.header_bytes(3), reference.header_bytes(3), "{:?}", engine.kind());
        }
        let mut record = reference.header_bytes(3).to_vec();
        record.extend_from_slice(payload);
        record.resize(reference.size(), 0);
        assert_eq!(RecordDecoder::new(&record).count(), 1);
        record[40] ^= 1;
        assert_eq!(RecordDecoder::new(&record).count(), 0, "a flipped payload bit makes a corrupt record");
    }

    #[test]
    fn records_round_trip_with_padding() {
        let mut stream = Vec::new();
        for (i, len) in [0usize, 1, 7, 8, 9, 100].iter().enumerate() {
            let payload: Vec<u8> = (0..*len as u8).collect();
            let rec = encode(i as u64, &payload);
            assert_eq!(rec.len() % 8, 0);
            assert_eq!(rec.len(), record_size(*len).unwrap());
            stream.extend(rec);
        }
        let mut decoder = RecordDecoder::new(&stream);
        let lens: Vec<usize> = decoder.by_ref().map(|r| r.payload.len()).collect();
        assert_eq!(lens, [0, 1, 7, 8, 9, 100]);
        assert_eq!(decoder.totals(), DecodeTotals { records: 6, bytes_skipped: 0, corrupt: 0 });
    }

    #[test]
    fn resyncs_after_garbage_a_torn_prefix_and_a_corrupt_record() {
        let a = encode(1, b"first record");
        let b = encode(2, b"second record");
        let c = encode(3, b"third");
        let mut stream = b"junk".to_vec();
        stream.extend_from_slice(&a[10..]); // the torn tail of an overwritten record
        stream.extend_from_slice(&a);
        let mut corrupt = b.clone();
        corrupt[40] ^= 0x01;
        stream.extend_from_slice(&corrupt);
        stream.extend_from_slice(&c);
        stream.extend_from_slice(&b[..20]); // cut off at the end
        let mut decoder = RecordDecoder::new(&stream);
        let seqs: Vec<u64> = decoder.by_ref().map(|r| r.header.sequence).collect();
        assert_eq!(seqs, [1, 3]);
        let totals = decoder.totals();
        assert_eq!(totals.corrupt, 1);
        assert_eq!(totals.bytes_skipped as usize, 4 + (a.len() - 10) + corrupt.len() + 20);
    }

    #[test]
    fn a_marker_inside_a_payload_is_not_taken_for_a_record() {
        let mut payload = b"xxLBR1".to_vec();
        payload.extend_from_slice(&[0xFF; 40]);
        let rec = encode(9, &payload);
        let mut decoder = RecordDecoder::new(&rec[4..]);
        assert_eq!(decoder.next(), None);
        assert_eq!(decoder.totals().records, 0);
    }

    #[test]
    fn streaming_waits_for_a_cut_record() {
        let rec = encode(5, b"streaming");
        assert_eq!(decode_next(&rec[..20], false), Some(DecodeStep::NeedMore));
        assert_eq!(decode_next(&rec[..35], false), Some(DecodeStep::NeedMore));
        // Payload complete, padding not: wait while more may come, accept at the end.
        assert_eq!(decode_next(&rec[..41], false), Some(DecodeStep::NeedMore));
        assert!(matches!(decode_next(&rec[..41], true), Some(DecodeStep::Record { consumed: 41, .. })));
        assert_eq!(decode_next(b"LB", false), Some(DecodeStep::NeedMore));
        assert!(matches!(decode_next(&rec, false), Some(DecodeStep::Record { consumed, .. }) if consumed == rec.len()));
        assert_eq!(decode_next(&[], true), None);
    }

    proptest! {
        #[test]
        fn the_sequence_term_equals_recomputing_the_crc(payload in proptest::collection::vec(any::<u8>(), 0..200),
                                                         sequence in any::<u64>(), ts in any::<u64>(), pid in any::<u32>()) {
            let prepared = PreparedRecord::new(&payload, FileTime(ts), pid).unwrap();
            let header = prepared.header_bytes(sequence);
            prop_assert_eq!(RecordHeader::parse(&header).unwrap().crc, record_crc(&header, &payload).unwrap());
            prop_assert_eq!(RecordHeader::parse(&header).unwrap().sequence, sequence);
        }

        #[test]
        fn crc32c_append_is_concatenation(a in proptest::collection::vec(any::<u8>(), 0..300), b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(crc32c_append(crc32c(&a), &b), crc32c(&whole));
        }

        #[test]
        fn decoder_never_panics_and_accounts_for_every_byte(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut decoder = RecordDecoder::new(&bytes);
            let mut record_bytes = 0u64;
            for r in decoder.by_ref() { record_bytes += record_size(r.payload.len()).unwrap() as u64; }
            let t = decoder.totals();
            prop_assert!(t.bytes_skipped + record_bytes >= (bytes.len() as u64).saturating_sub(7));
        }

        #[test]
        fn any_single_bit_flip_is_caught_or_skipped(payload in proptest::collection::vec(any::<u8>(), 0..200), bit in 0usize..(232 * 8)) {
            let rec = encode(42, &payload);
            let bit = bit % ((RECORD_HEADER_SIZE + payload.len()) * 8);
            let mut bad = rec.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let found: Vec<_> = RecordDecoder::new(&bad).map(|r| (r.header.sequence, r.payload.to_vec())).collect();
            prop_assert!(found.is_empty(), "a flipped bit produced {found:?}");
        }

        #[test]
        fn truncated_and_shifted_streams_keep_every_intact_record(
            lens in proptest::collection::vec(0usize..300, 1..20),
            cut_front in 0usize..400,
            cut_back in 0usize..400,
        ) {
            let mut stream = Vec::new();
            let mut bounds = Vec::new();
            for (i, len) in lens.iter().enumerate() {
                let start = stream.len();
                stream.extend(encode(i as u64, &vec![i as u8; *len]));
                // A record is recoverable when header and payload are whole; its padding may be cut.
                bounds.push((start, start + RECORD_HEADER_SIZE + len, i as u64));
            }
            let end = stream.len().saturating_sub(cut_back).max(cut_front.min(stream.len()));
            let front = cut_front.min(end);
            let window = &stream[front..end];
            let seqs: Vec<u64> = RecordDecoder::new(window).map(|r| r.header.sequence).collect();
            let expected: Vec<u64> = bounds.iter()
                .filter(|(s, e, _)| *s >= front && *e <= end)
                .map(|(_, _, q)| *q).collect();
            prop_assert_eq!(seqs, expected);
        }
    }
}
