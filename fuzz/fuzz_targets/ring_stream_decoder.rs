//! The ring-log record stream decoder: `record::RecordDecoder` and `record::decode_next`.
//!
//! Each input is used twice:
//! 1. as raw bytes, decoded whole (`RecordDecoder`), as a stream (`decode_next` with `at_end` false
//!    until it needs more, then true) and in chunks (a reader receiving the stream piece by piece);
//! 2. as the recipe of a stream (via `arbitrary::Unstructured`): 1..=8 genuine records, built with
//!    `PreparedRecord::header_bytes` from arbitrary payloads, between arbitrary garbage chunks that
//!    contain no `LBR1` marker. Every embedded record must be recovered, in order (re-sync).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use logbridge_core::record::{
    self, DecodeStep, DecodeTotals, PreparedRecord, RECORD_HEADER_SIZE, RECORD_MAGIC, RecordDecoder, RecordHeader,
    SkipReason, decode_next, record_crc, record_size,
};
use logbridge_core::time::FileTime;

/// A record as the tests compare it: sequence, timestamp, process id, payload.
type Found = (u64, u64, u32, Vec<u8>);

/// CRC-32C of payload || header[0..28], straight from the `crc` crate's digest (independent of
/// `record_crc`, which composes two CRCs).
fn reference_crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut digest = record::CRC32C.digest();
    digest.update(payload);
    digest.update(&header[..28]);
    digest.finalize()
}

/// Offset of `inner` within `outer` (which must contain it).
fn offset_in(inner: &[u8], outer: &[u8]) -> usize {
    let offset = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize).expect("slice before its input");
    assert!(offset + inner.len() <= outer.len(), "slice past the end of its input");
    offset
}

fn has_marker(bytes: &[u8]) -> bool {
    bytes.windows(RECORD_MAGIC.len()).any(|w| w == RECORD_MAGIC)
}

/// Decodes `data` whole with `RecordDecoder`, checking every record against the raw bytes.
fn decode_whole(data: &[u8]) -> (Vec<Found>, DecodeTotals) {
    let mut decoder = RecordDecoder::new(data);
    let mut found = Vec::new();
    let mut record_bytes = 0usize;
    let mut consumed = 0usize;
    let mut next_free = 0usize;
    for record in decoder.by_ref() {
        // The payload is a slice of the input; the 32 header bytes are right before it.
        let payload_at = offset_in(record.payload, data);
        let at = payload_at.checked_sub(RECORD_HEADER_SIZE).expect("a payload without room for its header");
        let raw_header = &data[at..payload_at];
        // Property: records come in input order and do not overlap.
        assert!(at >= next_free, "record at {at} overlaps the previous one (ends at {next_free})");
        // Property: the header is the marker followed by what the decoder reports, and the CRC it
        // carries is the CRC-32C of payload || header[0..28] (re-computed here independently of the decoder).
        assert_eq!(&raw_header[..4], &RECORD_MAGIC);
        assert_eq!(RecordHeader::parse(raw_header), Some(record.header));
        assert_eq!(record.payload.len(), record.header.length as usize);
        assert_eq!(record_crc(raw_header, record.payload), Some(record.header.crc), "record with a bad CRC");
        assert_eq!(reference_crc(raw_header, record.payload), record.header.crc, "record_crc is not CRC-32C");
        let size = record_size(record.payload.len()).unwrap();
        assert_eq!(size, record.header.record_size());
        // Padding may be missing only at the very end of the input.
        let this_consumed = size.min(data.len() - at);
        next_free = at + this_consumed;
        record_bytes += size;
        consumed += this_consumed;
        found.push((
            record.header.sequence,
            record.header.timestamp.0,
            record.header.process_id,
            record.payload.to_vec(),
        ));
    }
    let totals = decoder.totals();
    assert_eq!(totals.records, found.len() as u64);
    // Property: every byte is accounted for: records' sizes + skipped >= len - 7 (a cut-off final
    // padding of at most 7 bytes is the only slack) ...
    assert!(totals.bytes_skipped as usize + record_bytes >= data.len().saturating_sub(7));
    // ... and exactly: the bytes consumed by records plus the bytes skipped are the input.
    assert_eq!(totals.bytes_skipped as usize + consumed, data.len(), "bytes unaccounted for");
    assert!(totals.corrupt <= totals.bytes_skipped);
    (found, totals)
}

/// Checks one `decode_next` step against the buffer it looked at; returns the bytes to advance.
fn check_step(buf: &[u8], at_end: bool, step: &DecodeStep<'_>) -> usize {
    match *step {
        DecodeStep::Record { record, consumed } => {
            // Property: a record starts at the front of the buffer and its CRC is valid.
            assert_eq!(offset_in(record.payload, buf), RECORD_HEADER_SIZE);
            assert_eq!(record_crc(&buf[..RECORD_HEADER_SIZE], record.payload), Some(record.header.crc));
            assert_eq!(reference_crc(&buf[..RECORD_HEADER_SIZE], record.payload), record.header.crc);
            assert!(consumed >= RECORD_HEADER_SIZE + record.payload.len() && consumed <= buf.len());
            assert_eq!(consumed, record.header.record_size().min(buf.len()));
            consumed
        }
        DecodeStep::Skip { bytes, reason } => {
            // Property: a skip always makes progress and never runs past the buffer.
            assert!(bytes >= 1 && bytes <= buf.len());
            match reason {
                // No marker starts inside bytes skipped for want of one.
                SkipReason::NoMarker => assert!(!has_marker(&buf[..(bytes + 3).min(buf.len())])),
                // A marker that leads nowhere is skipped one byte at a time.
                SkipReason::Incomplete | SkipReason::BadChecksum => {
                    assert_eq!(bytes, 1);
                    assert!(buf.starts_with(&RECORD_MAGIC));
                }
            }
            bytes
        }
        DecodeStep::NeedMore => {
            // Property: only a stream that is not complete waits, and only when what it has could
            // still be the start of a record (a possible partial marker, or a marker and a header,
            // payload or padding that the buffer cuts off).
            assert!(!at_end, "NeedMore at the end of the input");
            if buf.len() >= RECORD_MAGIC.len() {
                assert!(buf.starts_with(&RECORD_MAGIC));
                if let Some(h) = RecordHeader::parse(buf) {
                    assert!(buf.len() < h.record_size());
                } else {
                    assert!(buf.len() < RECORD_HEADER_SIZE);
                }
            }
            0
        }
    }
}

/// A reader that receives the input in pieces: after each piece it calls `decode_next(.., false)`
/// until it needs more, and once the input is complete it calls `decode_next(.., true)` on what is
/// left. `chunks` gives the piece sizes (cycled); an empty `chunks` means the whole input at once.
fn decode_streaming(data: &[u8], chunks: &[u8]) -> (Vec<Found>, u64) {
    let mut found = Vec::new();
    let (mut skipped, mut consumed) = (0u64, 0u64);
    // The reader's buffer is always data[done..fed]: what it has received and not yet consumed.
    let (mut done, mut fed) = (0usize, 0usize);
    let mut piece = 0usize;
    loop {
        let len = if chunks.is_empty() { data.len() } else { 1 + usize::from(chunks[piece % chunks.len()]) };
        piece += 1;
        fed = (fed + len).min(data.len());
        for at_end in [false, true] {
            if at_end && fed < data.len() {
                break;
            }
            // The bound keeps a decoder that makes no progress from hanging the fuzzer.
            let mut steps_left = fed - done + 1;
            while let Some(step) = decode_next(&data[done..fed], at_end) {
                steps_left = steps_left.checked_sub(1).expect("decode_next made no progress");
                let advance = check_step(&data[done..fed], at_end, &step);
                match step {
                    DecodeStep::Record { record, .. } => {
                        consumed += advance as u64;
                        let h = record.header;
                        found.push((h.sequence, h.timestamp.0, h.process_id, record.payload.to_vec()));
                    }
                    DecodeStep::Skip { .. } => skipped += advance as u64,
                    DecodeStep::NeedMore => break,
                }
                done += advance;
            }
        }
        if fed == data.len() {
            break;
        }
    }
    // Property: with at_end, decode_next drains everything (it returns None only for an empty buffer).
    assert_eq!(done, data.len(), "{} bytes left after the end", data.len() - done);
    // Property: every byte fed is either in a record or skipped.
    assert_eq!(skipped + consumed, data.len() as u64, "streaming lost bytes");
    (found, skipped)
}

/// Takes up to `max` bytes (fewer if the input runs out).
fn take_bytes<'a>(u: &mut Unstructured<'a>, max: usize) -> &'a [u8] {
    let len = u.int_in_range(0..=max).unwrap_or(0).min(u.len());
    u.bytes(len).unwrap_or(&[])
}

/// Removes every `LBR1` marker from `garbage` by zeroing its last byte (a zero cannot be part of
/// any marker, so one left-to-right pass leaves none).
fn scrub(garbage: &mut [u8]) {
    for i in 0..garbage.len().saturating_sub(3) {
        if garbage[i..i + 4] == RECORD_MAGIC {
            garbage[i + 3] = 0;
        }
    }
}

fn differential(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let count = u.int_in_range(1..=8u8).unwrap_or(1);
    let mut stream = Vec::new();
    let mut embedded: Vec<Found> = Vec::new();
    let mut garbage_bytes = 0usize;
    for i in 0..count {
        let mut garbage = take_bytes(&mut u, 300).to_vec();
        scrub(&mut garbage);
        assert!(!has_marker(&garbage));
        garbage_bytes += garbage.len();
        stream.extend_from_slice(&garbage);

        let sequence: u64 = u.arbitrary().unwrap_or(u64::from(i));
        let timestamp: u64 = u.arbitrary().unwrap_or(0);
        let process_id: u32 = u.arbitrary().unwrap_or(0);
        let payload = take_bytes(&mut u, 600);
        let prepared = PreparedRecord::new(payload, FileTime(timestamp), process_id).unwrap();
        stream.extend_from_slice(&prepared.header_bytes(sequence));
        stream.extend_from_slice(payload);
        stream.resize(stream.len() + prepared.size() - RECORD_HEADER_SIZE - payload.len(), 0);
        embedded.push((sequence, timestamp, process_id, payload.to_vec()));
    }
    let mut trailing = take_bytes(&mut u, 300).to_vec();
    if trailing.is_empty() {
        // The last record ends the input: its padding may be cut (a dump that ends mid-padding).
        let cut = u.int_in_range(0..=7usize).unwrap_or(0);
        let padding = record_size(embedded.last().unwrap().3.len()).unwrap()
            - RECORD_HEADER_SIZE
            - embedded.last().unwrap().3.len();
        stream.truncate(stream.len() - cut.min(padding));
    } else {
        scrub(&mut trailing);
        garbage_bytes += trailing.len();
        stream.extend_from_slice(&trailing);
    }

    // Property (re-sync): every embedded record is recovered, in order, none is invented, and
    // exactly the garbage is skipped, none of it as a corrupt record.
    let (found, totals) = decode_whole(&stream);
    assert_eq!(found, embedded, "records lost or invented among the garbage");
    assert_eq!(
        totals,
        DecodeTotals { records: embedded.len() as u64, bytes_skipped: garbage_bytes as u64, corrupt: 0 }
    );
    // The same through the streaming decoder on the whole input (at_end false, then true) ...
    let (streamed, skipped) = decode_streaming(&stream, &[]);
    assert_eq!(streamed, embedded, "streaming lost or invented records");
    assert_eq!(skipped, garbage_bytes as u64);
    // ... and in 1..=64-byte pieces: the same records and exactly the same skipped bytes
    // (decode_next with `at_end` false waits for a record's padding too).
    let chunks = take_bytes(&mut u, 16).iter().map(|b| b % 64).collect::<Vec<_>>();
    let (streamed, skipped) = decode_streaming(&stream, &chunks);
    assert_eq!(streamed, embedded, "streaming in pieces lost or invented records");
    assert_eq!(skipped, garbage_bytes as u64, "where the input was cut changed what was skipped");
}

fuzz_target!(|data: &[u8]| {
    // Property: decoding arbitrary bytes never panics, and accounts for every byte (decode_whole).
    let (whole, totals) = decode_whole(data);
    // Property: decode_next on the whole input (at_end false until NeedMore, then true) finds the
    // same records and skips the same bytes as RecordDecoder.
    let (streamed, skipped) = decode_streaming(data, &[]);
    assert_eq!(streamed, whole);
    assert_eq!(skipped, totals.bytes_skipped);
    // Property: fed in pieces (sizes from the first bytes), the streaming decoder never panics,
    // returns only records with a valid CRC (checked in check_step), and finds exactly what the
    // whole-input decoder finds: where the input was cut changes nothing.
    let chunks: Vec<u8> = data.iter().take(8).map(|b| b % 64).collect();
    let (pieces, skipped_pieces) = decode_streaming(data, &chunks);
    assert_eq!(pieces, whole, "decoding in pieces found other records");
    assert_eq!(skipped_pieces, totals.bytes_skipped, "decoding in pieces skipped other bytes");
    // Property: genuine records embedded in marker-free garbage are all recovered.
    differential(data);
});
