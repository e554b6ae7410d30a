//! Integration tests of [`logbridge_core::ring::RingLog`] and [`logbridge_core::record`].
//!
//! The centre is a reference model (a list of every record ever appended, the queue of retained
//! ones, head/tail/sequence arithmetic and a copy of the whole byte stream) that runs in lock-step
//! with the real ring: proptest drives both with random appends (empty, exact-fit and too-large
//! records included), reads through independent cursors with random buffer sizes, clears and
//! cursor probes, and after every step the ring must agree with the model exactly.
//!
//! Payload bytes are always >= 0x80 and timestamps and process ids below 2^24, so no byte of a
//! record other than its own marker can spell `LBR1`; that makes "a position inside a record is
//! not a cursor" and "a torn prefix is only skipped bytes" exact expectations.

// Test code: a failed expectation must panic, indices come from the model and are checked by it,
// the arithmetic is on small test sizes, and the casts are between sizes far below 2^32.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    missing_docs
)]

use logbridge_core::record::{self, DecodeTotals, PreparedRecord, RECORD_HEADER_SIZE, RecordDecoder};
use logbridge_core::ring::{self, Appended, MIN_CAPACITY, ReadCursor, ReadOutcome, RingCounters, RingError, RingLog};
use logbridge_core::time::FileTime;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::collections::VecDeque;

/// What the ring must never write outside the bytes it reports.
const SENTINEL: u8 = 0xEE;

// -------------------------------------------------------------------------------------------------
// The reference model

/// A payload of `len` bytes, all >= 0x80 (so never part of an `LBR1` marker).
fn make_payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| 0x80 | ((i as u8).wrapping_mul(37).wrapping_add(seed) & 0x7F)).collect()
}

/// The record bytes, built from the documented layout (not with `PreparedRecord::header_bytes`).
fn encode(sequence: u64, payload: &[u8], timestamp: u64, pid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER_SIZE + payload.len() + 8);
    out.extend_from_slice(b"LBR1");
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.extend_from_slice(&pid.to_le_bytes());
    let mut digest = record::CRC32C.digest();
    digest.update(payload);
    digest.update(&out[..28]);
    out.extend_from_slice(&digest.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    out
}

#[derive(Clone, Debug)]
struct Rec {
    seq: u64,
    pos: u64,
    size: usize,
    payload: Vec<u8>,
    ts: u64,
    pid: u32,
}

type Decoded = (u64, Vec<u8>, u32, u64);

impl Rec {
    fn end(&self) -> u64 {
        self.pos + self.size as u64
    }

    fn decoded(&self) -> Decoded {
        (self.seq, self.payload.clone(), self.pid, self.ts)
    }
}

fn decode_all(bytes: &[u8]) -> (Vec<Decoded>, DecodeTotals) {
    let mut decoder = RecordDecoder::new(bytes);
    let records = decoder
        .by_ref()
        .map(|r| (r.header.sequence, r.payload.to_vec(), r.header.process_id, r.header.timestamp.0))
        .collect();
    (records, decoder.totals())
}

/// The real ring and the model of it, checked against each other by every operation.
struct Harness {
    ring: RingLog<Vec<u8>>,
    capacity: usize,
    head: u64,
    tail: u64,
    next_seq: u64,
    tail_seq: u64,
    overwritten_records: u64,
    overwritten_bytes: u64,
    /// Every record ever appended, in order.
    history: Vec<Rec>,
    /// Indices into `history` of the retained records, oldest first.
    retained: VecDeque<usize>,
    /// Every byte ever written: `stream[p]` is the byte at stream position `p`.
    stream: Vec<u8>,
}

impl Harness {
    fn new(storage_len: usize) -> Self {
        // Start from junk: the ring must zero it, and none of it may ever be read back.
        let ring = RingLog::new(vec![0xA5; storage_len]).unwrap();
        let capacity = 1usize << storage_len.ilog2(); // the largest power of two the storage holds
        assert_eq!(ring.capacity(), capacity);
        let h = Harness {
            ring,
            capacity,
            head: 0,
            tail: 0,
            next_seq: 0,
            tail_seq: 0,
            overwritten_records: 0,
            overwritten_bytes: 0,
            history: Vec::new(),
            retained: VecDeque::new(),
            stream: Vec::new(),
        };
        h.check();
        h
    }

    fn cap64(&self) -> u64 {
        self.capacity as u64
    }

    fn max_payload(&self) -> usize {
        self.capacity - RECORD_HEADER_SIZE
    }

    /// Counters and the derived accessors agree with the model; the invariants hold.
    fn check(&self) {
        let expected = RingCounters {
            capacity: self.cap64(),
            head: self.head,
            tail: self.tail,
            next_sequence: self.next_seq,
            oldest_sequence: self.tail_seq,
            overwritten_records: self.overwritten_records,
            overwritten_bytes: self.overwritten_bytes,
            repairs: 0,
        };
        assert_eq!(self.ring.counters(), expected);
        assert_eq!(self.ring.used(), self.head - self.tail);
        assert_eq!(self.ring.record_count(), self.retained.len() as u64);
        assert_eq!(self.next_seq - self.tail_seq, self.retained.len() as u64);
        let retained_bytes: u64 = self.retained.iter().map(|&i| self.history[i].size as u64).sum();
        assert_eq!(retained_bytes, self.head - self.tail);
        assert!(self.head - self.tail <= self.cap64());
        assert_eq!(self.head % 8, 0);
        assert_eq!(self.tail % 8, 0);
        assert_eq!(self.ring.cursor_at_oldest(), ReadCursor { position: self.tail, sequence: self.tail_seq });
        assert_eq!(self.ring.cursor_at_end(), ReadCursor { position: self.head, sequence: self.next_seq });
        assert_eq!(self.ring.max_payload(), self.max_payload());
        assert_eq!(self.ring.check_cursor(self.ring.cursor_at_oldest()), Ok(()));
        assert_eq!(self.ring.check_cursor(self.ring.cursor_at_end()), Ok(()));
    }

    /// The whole buffer as `copy_recent` shows it, for "nothing changed" comparisons.
    fn snapshot(&self) -> (RingCounters, Vec<u8>, (usize, u64)) {
        let mut out = vec![0; self.capacity];
        let got = self.ring.copy_recent(&mut out);
        (self.ring.counters(), out, got)
    }

    fn append(&mut self, len: usize, seed: u8, ts: u64, pid: u32) -> Result<Appended, RingError> {
        let payload = make_payload(len, seed);
        let prepared = PreparedRecord::new(&payload, FileTime(ts), pid).unwrap();
        let size = (RECORD_HEADER_SIZE + len).div_ceil(8) * 8;
        assert_eq!(prepared.size(), size);
        assert_eq!(record::record_size(len), Some(size));
        if size > self.capacity {
            let before = self.snapshot();
            let got = self.ring.append(&prepared);
            assert_eq!(got, Err(RingError::RecordTooLarge { size, capacity: self.capacity }));
            assert_eq!(self.snapshot(), before, "a refused record changed the ring");
            self.check();
            return got;
        }
        let mut dropped = 0;
        while self.head + size as u64 - self.tail > self.cap64() {
            let i = self.retained.pop_front().expect("room is made from retained records");
            let r = &self.history[i];
            assert_eq!((r.pos, r.seq), (self.tail, self.tail_seq));
            self.tail += r.size as u64;
            self.tail_seq += 1;
            self.overwritten_records += 1;
            self.overwritten_bytes += r.size as u64;
            dropped += 1;
        }
        let expected = Appended { sequence: self.next_seq, position: self.head, size, dropped_records: dropped };
        let got = self.ring.append(&prepared);
        assert_eq!(got, Ok(expected));
        let bytes = encode(self.next_seq, &payload, ts, pid);
        assert_eq!(bytes.len(), size);
        assert_eq!(&bytes[..RECORD_HEADER_SIZE], &prepared.header_bytes(self.next_seq));
        self.stream.extend_from_slice(&bytes);
        self.retained.push_back(self.history.len());
        self.history.push(Rec { seq: self.next_seq, pos: self.head, size, payload, ts, pid });
        self.head += size as u64;
        self.next_seq += 1;
        self.check();
        got
    }

    fn clear(&mut self) -> u64 {
        let expected = self.retained.len() as u64;
        assert_eq!(self.ring.clear(), expected);
        self.retained.clear();
        self.tail = self.head;
        self.tail_seq = self.next_seq;
        self.check();
        expected
    }

    /// The record a read from `cursor` starts with, if any.
    fn next_record(&self, cursor: ReadCursor) -> Option<&Rec> {
        let from = cursor.position.max(self.tail);
        self.retained.iter().map(|&i| &self.history[i]).find(|r| r.pos >= from)
    }

    /// Reads through `cursor` with a buffer of `out_len` bytes; checks outcome, cursor and bytes.
    /// `cursor` must be genuine (made by the ring), so the model knows what it names.
    fn read(&self, cursor: &mut ReadCursor, out_len: usize) -> Result<ReadOutcome, RingError> {
        let start = *cursor;
        assert_eq!(self.ring.check_cursor(start), Ok(()), "a genuine cursor was refused: {start:?}");
        // The model's answer.
        let mut from = start;
        let (mut lost_records, mut lost_bytes) = (0, 0);
        if start.position < self.tail {
            lost_records = self.tail_seq - start.sequence;
            lost_bytes = self.tail - start.position;
            // Independently: exactly the history between the cursor and the tail was lost.
            let missed: Vec<&Rec> =
                self.history.iter().filter(|r| r.pos >= start.position && r.pos < self.tail).collect();
            assert_eq!(missed.len() as u64, lost_records);
            assert_eq!(missed.iter().map(|r| r.size as u64).sum::<u64>(), lost_bytes);
            assert_eq!(missed.first().map(|r| r.seq), Some(start.sequence));
            from = ReadCursor { position: self.tail, sequence: self.tail_seq };
        }
        let mut taken = Vec::new();
        let mut bytes = 0;
        let mut expected_err = None;
        for r in self.retained.iter().map(|&i| &self.history[i]).filter(|r| r.pos >= from.position) {
            if taken.is_empty() {
                assert_eq!((r.pos, r.seq), (from.position, from.sequence), "cursor not at a record");
            }
            if bytes + r.size > out_len {
                if taken.is_empty() {
                    expected_err = Some(RingError::BufferTooSmall { required: r.size });
                }
                break;
            }
            bytes += r.size;
            taken.push(r);
        }

        let mut out = vec![SENTINEL; out_len];
        let got = self.ring.read(cursor, &mut out);
        if let Some(err) = expected_err {
            assert_eq!(got, Err(err));
            assert_eq!(*cursor, start, "a failed read moved the cursor");
            assert!(out.iter().all(|&b| b == SENTINEL), "a failed read wrote to the buffer");
            return got;
        }
        let outcome =
            ReadOutcome { bytes, records: taken.len() as u64, first_sequence: from.sequence, lost_records, lost_bytes };
        assert_eq!(got, Ok(outcome));
        let next = ReadCursor { position: from.position + bytes as u64, sequence: from.sequence + taken.len() as u64 };
        assert_eq!(*cursor, next);
        let data = &out[..bytes];
        assert_eq!(data, &self.stream[from.position as usize..next.position as usize], "read bytes differ");
        assert!(out[bytes..].iter().all(|&b| b == SENTINEL), "read wrote past the records it reported");
        let (decoded, totals) = decode_all(data);
        assert_eq!(decoded, taken.iter().map(|r| r.decoded()).collect::<Vec<_>>());
        assert_eq!(totals, DecodeTotals { records: taken.len() as u64, bytes_skipped: 0, corrupt: 0 });
        assert_eq!(self.ring.check_cursor(*cursor), Ok(()));
        got
    }

    /// `copy_recent` gives the last `min(capacity, head)` bytes of the stream; they decode to every
    /// record wholly inside that window (the retained ones last), after at most a torn prefix that
    /// is reported as skipped bytes, never as a corrupt record.
    fn check_copy_recent(&self, extra: usize) {
        let mut out = vec![SENTINEL; self.capacity + extra];
        let (len, start) = self.ring.copy_recent(&mut out);
        assert_eq!(start, self.head.saturating_sub(self.cap64()));
        assert_eq!(len as u64, self.head - start);
        assert_eq!(&out[..len], &self.stream[start as usize..self.head as usize]);
        assert!(out[len..].iter().all(|&b| b == SENTINEL));
        let (decoded, totals) = decode_all(&out[..len]);
        let whole: Vec<Decoded> = self.history.iter().filter(|r| r.pos >= start).map(Rec::decoded).collect();
        let torn = self.history.iter().find(|r| r.pos < start && r.end() > start).map_or(0, |r| r.end() - start);
        assert_eq!(decoded, whole);
        assert_eq!(totals, DecodeTotals { records: whole.len() as u64, bytes_skipped: torn, corrupt: 0 });
        let retained: Vec<Decoded> = self.retained.iter().map(|&i| self.history[i].decoded()).collect();
        assert!(decoded.ends_with(&retained), "the retained records are not the newest in the dump");
    }

    /// Asserts that `cursor` is refused by `check_cursor` and by `read` (which leaves it alone).
    fn assert_invalid(&self, cursor: ReadCursor) {
        assert_eq!(self.ring.check_cursor(cursor), Err(RingError::InvalidCursor), "{cursor:?} accepted");
        let mut moved = cursor;
        let mut out = vec![SENTINEL; 2 * self.capacity];
        assert_eq!(self.ring.read(&mut moved, &mut out), Err(RingError::InvalidCursor));
        assert_eq!(moved, cursor);
        assert!(out.iter().all(|&b| b == SENTINEL));
    }

    /// Appends filler records until `head == target` (which must be at least `head + 32`).
    fn fill_to(&mut self, target: u64) {
        while self.head < target {
            let remaining = (target - self.head) as usize;
            assert!(remaining >= RECORD_HEADER_SIZE && remaining.is_multiple_of(8));
            let size = if remaining <= 128 {
                remaining
            } else if remaining - 128 < RECORD_HEADER_SIZE {
                remaining - RECORD_HEADER_SIZE
            } else {
                128
            };
            self.append(size - RECORD_HEADER_SIZE, 0x11, 5, 6).unwrap();
        }
        assert_eq!(self.head, target);
    }
}

// -------------------------------------------------------------------------------------------------
// Lock-step property test

#[derive(Clone, Copy, Debug)]
enum Len {
    Small(usize),
    /// A fraction (of 65536) of the largest payload.
    Fraction(u16),
    /// The largest payload minus a few bytes: the record fills the log exactly or nearly.
    Fill(usize),
    /// Larger than the log.
    TooLarge(u16),
}

impl Len {
    fn resolve(self, max_payload: usize) -> usize {
        match self {
            Len::Small(n) => n,
            Len::Fraction(f) => usize::from(f) * (max_payload + 1) / 65536,
            Len::Fill(d) => max_payload - d,
            Len::TooLarge(x) => max_payload + 1 + usize::from(x) % (2 * max_payload),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum OutLen {
    Zero,
    /// The size of the next record plus this (negative: one byte or more too small).
    AroundNext(i8),
    /// A fraction (of 65536) of twice the capacity.
    Fraction(u16),
    Huge,
}

#[derive(Clone, Copy, Debug)]
enum Probe {
    AheadOfHead,
    Misaligned,
    InsideRecord,
    WrongSequence,
    BehindTail,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Append { len: Len, seed: u8, ts: u64, pid: u32 },
    Read { reader: usize, out: OutLen },
    Reset { reader: usize, oldest: bool },
    Clear,
    CopyRecent { extra: u8 },
    Probe { kind: Probe, pick: u16 },
}

fn reader() -> impl Strategy<Value = usize> {
    // Reader 2 reads rarely, so it falls behind the overwrites.
    prop_oneof![6 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)]
}

fn op() -> impl Strategy<Value = Op> {
    let len = prop_oneof![
        4 => (0usize..=40).prop_map(Len::Small),
        4 => any::<u16>().prop_map(Len::Fraction),
        1 => (0usize..16).prop_map(Len::Fill),
        1 => any::<u16>().prop_map(Len::TooLarge),
    ];
    let out = prop_oneof![
        1 => Just(OutLen::Zero),
        3 => (-9i8..=9).prop_map(OutLen::AroundNext),
        3 => any::<u16>().prop_map(OutLen::Fraction),
        2 => Just(OutLen::Huge),
    ];
    let probe = prop_oneof![
        Just(Probe::AheadOfHead),
        Just(Probe::Misaligned),
        Just(Probe::InsideRecord),
        Just(Probe::WrongSequence),
        Just(Probe::BehindTail),
    ];
    prop_oneof![
        10 => (len, any::<u8>(), 0u64..1 << 24, 0u32..1 << 24)
            .prop_map(|(len, seed, ts, pid)| Op::Append { len, seed, ts, pid }),
        8 => (reader(), out).prop_map(|(reader, out)| Op::Read { reader, out }),
        1 => (reader(), any::<bool>()).prop_map(|(reader, oldest)| Op::Reset { reader, oldest }),
        1 => Just(Op::Clear),
        1 => any::<u8>().prop_map(|extra| Op::CopyRecent { extra }),
        2 => (probe, any::<u16>()).prop_map(|(kind, pick)| Op::Probe { kind, pick }),
    ]
}

fn run_probe(h: &Harness, kind: Probe, pick: u16) {
    let pick = usize::from(pick);
    let retained: Vec<&Rec> = h.retained.iter().map(|&i| &h.history[i]).collect();
    match kind {
        Probe::AheadOfHead => {
            let position = h.head + 8 * (1 + pick as u64 % 4);
            h.assert_invalid(ReadCursor { position, sequence: h.next_seq + (pick as u64 / 4) % 2 });
        }
        Probe::Misaligned => {
            let bases: Vec<ReadCursor> = h
                .history
                .iter()
                .map(|r| ReadCursor { position: r.pos, sequence: r.seq })
                .chain([h.ring.cursor_at_end()])
                .collect();
            let base = bases[pick % bases.len()];
            h.assert_invalid(ReadCursor { position: base.position + 1 + (pick as u64 / 7) % 7, ..base });
        }
        Probe::InsideRecord => {
            if let Some(r) = retained.get(pick % retained.len().max(1)) {
                let inner = r.size / 8 - 1; // aligned positions strictly inside the record
                let k = 1 + (pick / retained.len()) % inner;
                for sequence in [r.seq, r.seq + 1, h.next_seq] {
                    h.assert_invalid(ReadCursor { position: r.pos + 8 * k as u64, sequence });
                }
            }
        }
        Probe::WrongSequence => {
            let (position, sequence) =
                retained.get(pick % (retained.len() + 1)).map_or((h.head, h.next_seq), |r| (r.pos, r.seq));
            let delta = 1 + (pick as u64 / 3) % 3;
            h.assert_invalid(ReadCursor { position, sequence: sequence + delta });
            if sequence >= delta {
                h.assert_invalid(ReadCursor { position, sequence: sequence - delta });
            }
        }
        Probe::BehindTail => {
            let behind: Vec<&Rec> = h.history.iter().filter(|r| r.pos < h.tail).collect();
            if let Some(r) = behind.get(pick % behind.len().max(1)) {
                // A genuine old cursor is accepted and told what it lost.
                let mut cursor = ReadCursor { position: r.pos, sequence: r.seq };
                let outcome = h.read(&mut cursor, 4 * h.capacity).unwrap();
                assert!(outcome.lost_records >= 1);
                // One that claims a sequence the tail has not reached yet is not plausible.
                h.assert_invalid(ReadCursor { position: r.pos, sequence: h.tail_seq + 1 });
            }
        }
    }
}

fn run_ops(storage_len: usize, ops: &[Op]) {
    let mut h = Harness::new(storage_len);
    let mut readers = [ReadCursor::default(); 3];
    let mut last_seen: [Option<u64>; 3] = [None; 3];
    for op in ops {
        match *op {
            Op::Append { len, seed, ts, pid } => {
                let _ = h.append(len.resolve(h.max_payload()), seed, ts, pid);
            }
            Op::Read { reader, out } => {
                let cursor = &mut readers[reader];
                let out_len = match out {
                    OutLen::Zero => 0,
                    OutLen::AroundNext(d) => {
                        let next = h.next_record(*cursor).map_or(0, |r| r.size as isize);
                        (next + isize::from(d)).max(0) as usize
                    }
                    OutLen::Fraction(f) => usize::from(f) * (2 * h.capacity + 1) / 65536,
                    OutLen::Huge => 4 * h.capacity,
                };
                if let Ok(outcome) = h.read(cursor, out_len) {
                    // Never a repeated or reordered record, whatever was lost in between.
                    if outcome.records > 0 {
                        if let Some(seen) = last_seen[reader] {
                            assert!(outcome.first_sequence > seen);
                        }
                        last_seen[reader] = Some(outcome.first_sequence + outcome.records - 1);
                    }
                }
            }
            Op::Reset { reader, oldest } => {
                readers[reader] = if oldest { h.ring.cursor_at_oldest() } else { h.ring.cursor_at_end() };
                last_seen[reader] = None;
            }
            Op::Clear => {
                h.clear();
            }
            Op::CopyRecent { extra } => h.check_copy_recent(usize::from(extra)),
            Op::Probe { kind, pick } => run_probe(&h, kind, pick),
        }
        for cursor in readers {
            assert_eq!(h.ring.check_cursor(cursor), Ok(()), "a reader's cursor became invalid: {cursor:?}");
        }
    }
    h.check_copy_recent(0);
    // Finally every reader catches up, losing exactly what the model says.
    for cursor in &mut readers {
        h.read(cursor, 4 * h.capacity).unwrap();
        assert_eq!(*cursor, h.ring.cursor_at_end());
    }
}

proptest! {
    // About 6 s in a debug build; failures are saved next to this file (tests/ring.proptest-regressions).
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn ring_matches_the_reference_model(
        storage_len in MIN_CAPACITY..=2100usize,
        ops in proptest::collection::vec(op(), 1..250),
    ) {
        run_ops(storage_len, &ops);
    }
}

/// A fixed scenario that exercises every branch of the model (so the property test above cannot
/// pass merely because its generator missed one).
#[test]
fn the_model_covers_overwrite_loss_exact_fill_and_refusal() {
    let mut h = Harness::new(256);
    let mut slow = h.ring.cursor_at_oldest();
    for i in 0..10 {
        h.append(20 + i, i as u8, 100 + i as u64, 7).unwrap();
    }
    assert!(h.overwritten_records > 0);
    let outcome = h.read(&mut slow, 1024).unwrap();
    assert!(outcome.lost_records > 0 && outcome.lost_bytes > 0);
    assert_eq!(h.append(224, 1, 2, 3).unwrap().size, 256); // exactly fills the log
    assert_eq!(h.ring.record_count(), 1);
    assert_eq!(h.append(225, 1, 2, 3), Err(RingError::RecordTooLarge { size: 264, capacity: 256 }));
    let mut fresh = h.ring.cursor_at_oldest();
    assert_eq!(h.read(&mut fresh, 255), Err(RingError::BufferTooSmall { required: 256 }));
    assert_eq!(h.read(&mut fresh, 256).unwrap().records, 1);
    h.check_copy_recent(3);
}

// -------------------------------------------------------------------------------------------------
// Wrap-around at every offset

#[test]
fn records_straddling_the_physical_end_read_back_byte_exact_at_every_offset() {
    let mut straddled = 0usize;
    let mut header_straddled = 0usize;
    // Capacities are powers of two (the ring uses the largest one its storage holds).
    for capacity in [MIN_CAPACITY, 512, 1024] {
        for offset in (0..capacity).step_by(8) {
            let distance = capacity - offset; // bytes from the head to the physical end
            let mut lens = vec![0, 1, 7, 8, 9, 33, capacity - 40, capacity - 32];
            if distance >= RECORD_HEADER_SIZE && offset > 0 {
                lens.push(distance - RECORD_HEADER_SIZE + 1); // ends 8 bytes past the end
            }
            for len in lens {
                let mut h = Harness::new(capacity);
                // Wrap at least once, and leave the head at `offset`.
                h.fill_to((capacity + offset) as u64);
                assert_eq!(h.head % h.cap64(), offset as u64);
                let mut reader = h.ring.cursor_at_end();
                let a = h.append(len, len as u8, 0x00AB_CDEF, 0x0012_3456).unwrap();
                if offset + a.size > capacity {
                    straddled += 1;
                    if distance < RECORD_HEADER_SIZE {
                        header_straddled += 1;
                    }
                }
                // The record alone, byte-exact (the harness compares with the model's stream).
                let outcome = h.read(&mut reader, a.size).unwrap();
                assert_eq!((outcome.records, outcome.bytes), (1, a.size));
                h.check_copy_recent(0);
                // One more record after it, then everything retained from the oldest.
                h.append(3, 9, 1, 2).unwrap();
                let mut oldest = h.ring.cursor_at_oldest();
                h.read(&mut oldest, capacity).unwrap();
                assert_eq!(oldest, h.ring.cursor_at_end());
                h.check_copy_recent(0);
            }
        }
    }
    // Every capacity has offsets where the record, and some where its header, crosses the end.
    println!("{straddled} straddling records, {header_straddled} straddling headers");
    // Over the three capacities: 1792 offsets, each with several records that cross the end.
    assert!(straddled > 700, "only {straddled} straddling records");
    assert!(header_straddled >= 72, "only {header_straddled} straddling headers");
}

// -------------------------------------------------------------------------------------------------
// check_cursor

#[test]
fn check_cursor_refuses_what_is_not_a_record_boundary_and_accepts_the_past() {
    let mut h = Harness::new(512);
    let mut early = h.ring.cursor_at_oldest();
    for i in 0..6 {
        h.append(10 + 13 * i, i as u8, 1, 1).unwrap();
    }
    let mid = h.ring.cursor_at_end();
    for i in 0..20 {
        h.append(30 + i, i as u8, 2, 2).unwrap();
    }
    assert!(h.tail > mid.position, "the early records must have been overwritten");

    // Ahead of the head, with any sequence.
    for k in 1..4u64 {
        h.assert_invalid(ReadCursor { position: h.head + 8 * k, sequence: h.next_seq });
        h.assert_invalid(ReadCursor { position: h.head + 8 * k, sequence: h.next_seq + k });
    }
    // Misaligned: behind the tail, inside the retained records and just past the head.
    for base in [early.position, mid.position, h.tail, h.history.last().unwrap().pos, h.head] {
        for d in 1..8 {
            h.assert_invalid(ReadCursor { position: base + d, sequence: 0 });
        }
    }
    // Every aligned position inside every retained record, with the record's own sequence.
    let retained: Vec<Rec> = h.retained.iter().map(|&i| h.history[i].clone()).collect();
    for r in &retained {
        for inside in (r.pos + 8..r.end()).step_by(8) {
            h.assert_invalid(ReadCursor { position: inside, sequence: r.seq });
        }
        // The right place with the wrong sequence.
        h.assert_invalid(ReadCursor { position: r.pos, sequence: r.seq + 1 });
        h.assert_invalid(ReadCursor { position: r.pos, sequence: r.seq - 1 });
        assert_eq!(h.ring.check_cursor(ReadCursor { position: r.pos, sequence: r.seq }), Ok(()));
    }
    h.assert_invalid(ReadCursor { position: h.head, sequence: h.next_seq + 1 });
    h.assert_invalid(ReadCursor { position: h.head, sequence: h.next_seq - 1 });
    // Behind the tail with a sequence the tail has not reached: not plausible.
    h.assert_invalid(ReadCursor { position: mid.position, sequence: h.tail_seq + 1 });

    // Behind the tail: accepted, and the reader learns exactly what it lost.
    let mut mid_reader = mid;
    let outcome = h.read(&mut mid_reader, 4096).unwrap();
    assert_eq!(outcome.lost_records, h.tail_seq - mid.sequence);
    assert_eq!(outcome.lost_bytes, h.tail - mid.position);
    assert_eq!(outcome.first_sequence, h.tail_seq);
    let outcome = h.read(&mut early, 4096).unwrap();
    assert_eq!((outcome.lost_records, outcome.lost_bytes), (h.tail_seq, h.tail));

    // After a clear, even the newest record is in the past.
    let mut newest = ReadCursor { position: retained.last().unwrap().pos, sequence: retained.last().unwrap().seq };
    h.clear();
    let outcome = h.read(&mut newest, 4096).unwrap();
    assert_eq!((outcome.records, outcome.lost_records), (0, 1));
    assert_eq!(newest, h.ring.cursor_at_end());
}

// -------------------------------------------------------------------------------------------------
// Sequence numbers

#[test]
fn sequence_numbers_increase_by_one_per_append_and_are_never_reused_after_clear() {
    let mut h = Harness::new(512);
    let mut watcher = h.ring.cursor_at_oldest();
    let mut expected = 0u64;
    let mut cleared = 0u64;
    let mut seen = Vec::new();
    for round in 0..40usize {
        for i in 0..round % 7 {
            let a = h.append((round * 17 + i * 5) % 120, i as u8, 3, 4).unwrap();
            assert_eq!(a.sequence, expected);
            expected += 1;
        }
        // A refused record takes no sequence number.
        assert!(h.append(500, 0, 0, 0).is_err());
        assert_eq!(h.ring.counters().next_sequence, expected);
        if round % 3 == 0 {
            cleared += h.clear();
            assert_eq!(h.ring.counters().next_sequence, expected, "clear must not rewind the sequence");
        }
        if round % 5 == 0 {
            // The model checks the read; the watcher's own copy collects what it saw.
            let mut checked = watcher;
            h.read(&mut checked, 4096).unwrap();
            let mut out = vec![0; 4096];
            let n = h.ring.read(&mut watcher, &mut out).unwrap().bytes;
            assert_eq!(watcher, checked);
            seen.extend(decode_all(&out[..n]).0.into_iter().map(|d| d.0));
        }
    }
    assert!(cleared > 0 && h.overwritten_records > 0);
    // What the watcher saw across all reads: strictly increasing, each sequence once.
    assert!(seen.len() > 10);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "sequence reused or reordered: {seen:?}");
    // The next record after a clear continues the count.
    h.clear();
    assert_eq!(h.append(1, 1, 1, 1).unwrap().sequence, expected);
    let mut oldest = h.ring.cursor_at_oldest();
    assert_eq!(h.read(&mut oldest, 4096).unwrap().first_sequence, expected);
}

// -------------------------------------------------------------------------------------------------
// Storage

#[test]
fn storage_below_min_capacity_is_refused_and_odd_sizes_round_down() {
    let power_of_two_below = |len: usize| if len == 0 { 0 } else { 1usize << len.ilog2() };
    for len in 0..MIN_CAPACITY {
        assert_eq!(
            RingLog::new(vec![0u8; len]).err(),
            Some(RingError::StorageTooSmall { capacity: power_of_two_below(len) }),
            "storage of {len} bytes"
        );
    }
    // 256..=511 round down to exactly MIN_CAPACITY; anything below 256 is refused.
    for len in [MIN_CAPACITY, MIN_CAPACITY + 1, MIN_CAPACITY + 8, 2 * MIN_CAPACITY - 1] {
        let ring = RingLog::new(vec![0u8; len]).unwrap();
        assert_eq!(ring.capacity(), MIN_CAPACITY);
        assert_eq!(ring.max_payload(), MIN_CAPACITY - RECORD_HEADER_SIZE);
    }
    for (len, capacity) in
        [(1000usize, 512), (1024, 1024), (1535, 1024), (ring::DEFAULT_CAPACITY + 5, ring::DEFAULT_CAPACITY)]
    {
        assert_eq!(RingLog::new(vec![0u8; len]).unwrap().capacity(), capacity);
    }
}

#[test]
fn the_ring_zeroes_its_storage_and_never_touches_the_rounded_off_bytes() {
    // Storage full of a valid record pattern: none of it may survive.
    let stale = encode(5, &make_payload(40, 1), 1, 1);
    let mut buf: Vec<u8> = stale.iter().copied().cycle().take(263).collect();
    {
        let mut ring = RingLog::new(&mut buf[..]).unwrap();
        assert_eq!(ring.capacity(), 256);
        let mut out = vec![SENTINEL; 256];
        assert_eq!(ring.copy_recent(&mut out), (0, 0));
        let mut cursor = ring.cursor_at_oldest();
        assert_eq!(ring.read(&mut cursor, &mut out).unwrap().records, 0);
        for i in 0..40u8 {
            let payload = make_payload(usize::from(i) * 3, i);
            ring.append(&PreparedRecord::new(&payload, FileTime(1), 1).unwrap()).unwrap();
        }
        assert!(ring.counters().head > 1000);
    }
    assert_eq!(&buf[256..], &[0u8; 7], "the ring wrote past its rounded capacity");
    assert!(buf[..256].iter().any(|&b| b != 0));
    {
        RingLog::new(&mut buf[..]).unwrap();
    }
    assert!(buf.iter().all(|&b| b == 0), "storage not zeroed");
}

// -------------------------------------------------------------------------------------------------
// Regression tests for bugs found while writing these tests: a header forged inside a payload
// taken for a cursor, a forged length reading past the head into cleared records, a cursor behind
// the tail claiming the tail's sequence, and copy_recent keeping the oldest bytes of a short buffer.

/// A payload that contains a header-shaped prefix, and the position of that prefix in the ring.
fn forge(ring: &mut RingLog<Vec<u8>>, claimed_len: u32, claimed_seq: u64) -> ReadCursor {
    let mut payload = b"LBR1".to_vec();
    payload.extend_from_slice(&claimed_len.to_le_bytes());
    payload.extend_from_slice(&claimed_seq.to_le_bytes());
    payload.extend_from_slice(&[0; 16]); // timestamp, pid, crc (no valid CRC needed)
    let a = ring.append(&PreparedRecord::new(&payload, FileTime(2), 2).unwrap()).unwrap();
    ReadCursor { position: a.position + RECORD_HEADER_SIZE as u64, sequence: claimed_seq }
}

#[test]
fn a_header_forged_in_a_payload_is_not_a_cursor() {
    let mut ring = RingLog::new(vec![0u8; 256]).unwrap();
    let inside = forge(&mut ring, 0, 777);
    // The module doc: "A cursor past head, misaligned, or inside a record is refused".
    assert_eq!(ring.check_cursor(inside), Err(RingError::InvalidCursor));
}

#[test]
fn cleared_records_cannot_be_read_back_through_a_forged_cursor() {
    let mut ring = RingLog::new(vec![0u8; 256]).unwrap();
    let secret = vec![0x5E; 64];
    ring.append(&PreparedRecord::new(&secret, FileTime(1), 1).unwrap()).unwrap(); // [0, 96)
    assert_eq!(ring.clear(), 1);
    // Claims 200 payload bytes: 232 from position 128 runs past the head (160) into [0, 96).
    let mut cursor = forge(&mut ring, 200, 777);
    let mut out = vec![0u8; 512];
    let outcome = ring.read(&mut cursor, &mut out);
    let leaked = out.windows(8).any(|w| w == [0x5E; 8]);
    assert!(!leaked, "cleared payload bytes were returned: {outcome:?}, cursor now {cursor:?}");
    assert!(cursor.position <= ring.counters().head, "the cursor was moved past the head");
}

#[test]
fn a_cursor_behind_the_tail_cannot_claim_the_tails_sequence() {
    let mut ring = RingLog::new(vec![0u8; 256]).unwrap();
    for _ in 0..3 {
        ring.append(&PreparedRecord::new(&[0x80; 8], FileTime(1), 1).unwrap()).unwrap();
    }
    ring.clear(); // tail = head = 120, tail_sequence = 3
    // A genuine record boundary behind the tail always has a smaller sequence than the tail's.
    let impossible = ReadCursor { position: 80, sequence: 3 };
    assert_eq!(ring.check_cursor(impossible), Err(RingError::InvalidCursor));
}

#[test]
fn copy_recent_into_a_short_buffer_keeps_the_newest_bytes() {
    let mut ring = RingLog::new(vec![0u8; 256]).unwrap();
    for i in 0..10u8 {
        ring.append(&PreparedRecord::new(&make_payload(24, i), FileTime(1), 1).unwrap()).unwrap();
    }
    let mut out = vec![0u8; 128];
    let (len, start) = ring.copy_recent(&mut out);
    let head = ring.counters().head;
    assert_eq!(start + len as u64, head, "copied [{start}, {}) of a stream ending at {head}", start + len as u64);
}
