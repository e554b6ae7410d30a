//! `ring::RingLog<Vec<u8>>` driven by arbitrary operations, in lock-step with a reference model.
//!
//! The model is deliberately naive: the queue of retained records (sequence, position, size,
//! payload), head/tail/next-sequence arithmetic, every record ever appended, and a copy of the whole
//! byte stream (built from the documented record layout, not with `PreparedRecord`). After every
//! operation the ring must agree with it exactly (see `tests/ring.rs` for the proptest version).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use logbridge_core::record::{self, DecodeTotals, PreparedRecord, RECORD_HEADER_SIZE, RECORD_MAGIC, RecordDecoder};
use logbridge_core::ring::{Appended, MIN_CAPACITY, ReadCursor, ReadOutcome, RingCounters, RingError, RingLog};
use logbridge_core::time::FileTime;
use std::collections::VecDeque;

/// Operations per input: enough to wrap a 4 KiB ring many times, few enough to stay fast.
const MAX_OPS: usize = 64;
/// What the ring must never write outside the bytes it reports.
const SENTINEL: u8 = 0xEE;
/// Independent readers.
const READERS: usize = 3;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A record of `len % (capacity + 16)` payload bytes (so some are larger than the log): `prefix`
    /// first, then `fill`, and optionally a header forged inside the payload.
    Append {
        len: u16,
        fill: u8,
        prefix: Vec<u8>,
        forge: Option<Forge>,
    },
    /// Reader `reader % 3` reads into a buffer of `buf_len % (2 * capacity + 1)` bytes.
    Read {
        reader: u8,
        buf_len: u16,
    },
    Clear,
    /// `copy_recent` into a buffer of `buf_len % (2 * capacity + 1)` bytes.
    CopyRecent {
        buf_len: u16,
    },
    /// A foreign cursor (a `READ_LOG` with an explicit position): `position` and `sequence` are
    /// offsets from the record `base % (records + 1)` appended so far (the last choice is the head),
    /// so exact boundaries, positions inside records and wrong sequences are all easy to reach.
    ReadAt {
        base: u8,
        position: i16,
        sequence: i8,
    },
}

/// A record header forged inside a payload (what a hostile writer can do): at payload offset
/// `8 * (at % (len / 8 + 1))` (so 8-aligned in the ring), claiming `length` payload bytes and the
/// sequence of the record it is in plus `sequence`. With `valid_crc`, its CRC is right for the
/// `length` bytes that follow it, if they are in the payload. Written as far as the payload reaches.
#[derive(Arbitrary, Debug)]
struct Forge {
    at: u8,
    length: u16,
    sequence: i8,
    valid_crc: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Mapped to a storage size of 256..=4096 bytes.
    capacity: u16,
    ops: Vec<Op>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    seq: u64,
    pos: u64,
    size: usize,
    payload: Vec<u8>,
    ts: u64,
    pid: u32,
}

/// A record as the decoder returns it.
type Decoded = (u64, Vec<u8>, u32, u64);

impl Rec {
    fn decoded(&self) -> Decoded {
        (self.seq, self.payload.clone(), self.pid, self.ts)
    }
}

fn has_marker(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == RECORD_MAGIC)
}

/// The record bytes from the documented layout (marker, length, sequence, timestamp, pid, CRC-32C of
/// payload || header[0..28], payload, zero padding to 8).
fn encode(seq: u64, payload: &[u8], ts: u64, pid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER_SIZE + payload.len() + 8);
    out.extend_from_slice(b"LBR1");
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&pid.to_le_bytes());
    let mut digest = record::CRC32C.digest();
    digest.update(payload);
    digest.update(&out[..28]);
    out.extend_from_slice(&digest.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(8), 0);
    out
}

fn decode_all(bytes: &[u8]) -> (Vec<Decoded>, DecodeTotals) {
    let mut decoder = RecordDecoder::new(bytes);
    let records = decoder
        .by_ref()
        .map(|r| (r.header.sequence, r.payload.to_vec(), r.header.process_id, r.header.timestamp.0))
        .collect();
    (records, decoder.totals())
}

struct Model {
    capacity: usize,
    head: u64,
    tail: u64,
    next_seq: u64,
    tail_seq: u64,
    overwritten_records: u64,
    overwritten_bytes: u64,
    /// The retained records, oldest first.
    retained: VecDeque<Rec>,
    /// Every record ever appended.
    history: Vec<Rec>,
    /// Every byte ever written: `stream[p]` is the byte at stream position `p`.
    stream: Vec<u8>,
    /// Some record contains an `LBR1` that is not its own marker (a forged or accidental header in a
    /// payload). Decoding a torn dump is then not exactly predictable; byte comparisons still are.
    forged: bool,
}

struct Harness {
    ring: RingLog<Vec<u8>>,
    m: Model,
}

impl Harness {
    fn new(storage_len: usize) -> Self {
        // Junk storage: the ring must zero it, and none of it may ever be read back.
        let ring = RingLog::new(vec![0xA5; storage_len]).unwrap();
        let capacity = 1usize << storage_len.ilog2(); // the largest power of two the storage holds
        assert_eq!(ring.capacity(), capacity);
        let m = Model {
            capacity,
            head: 0,
            tail: 0,
            next_seq: 0,
            tail_seq: 0,
            overwritten_records: 0,
            overwritten_bytes: 0,
            retained: VecDeque::new(),
            history: Vec::new(),
            stream: Vec::new(),
            forged: false,
        };
        Harness { ring, m }
    }

    /// Property: the counters and accessors equal the model's, and the invariants hold.
    fn check(&self) {
        let m = &self.m;
        let expected = RingCounters {
            capacity: m.capacity as u64,
            head: m.head,
            tail: m.tail,
            next_sequence: m.next_seq,
            oldest_sequence: m.tail_seq,
            overwritten_records: m.overwritten_records,
            overwritten_bytes: m.overwritten_bytes,
            repairs: 0,
        };
        assert_eq!(self.ring.counters(), expected);
        assert_eq!(self.ring.used(), m.head - m.tail);
        assert_eq!(self.ring.record_count(), m.retained.len() as u64);
        assert_eq!(self.ring.max_payload(), m.capacity - RECORD_HEADER_SIZE);
        // Model invariants: the retained records tile [tail, head) with consecutive sequences.
        let mut at = (m.tail, m.tail_seq);
        for r in &m.retained {
            assert_eq!((r.pos, r.seq), at);
            at = (r.pos + r.size as u64, r.seq + 1);
        }
        assert_eq!(at, (m.head, m.next_seq));
        assert!(m.head - m.tail <= m.capacity as u64);
        assert_eq!(self.ring.cursor_at_oldest(), ReadCursor { position: m.tail, sequence: m.tail_seq });
        assert_eq!(self.ring.cursor_at_end(), ReadCursor { position: m.head, sequence: m.next_seq });
        assert_eq!(self.ring.check_cursor(self.ring.cursor_at_oldest()), Ok(()));
        assert_eq!(self.ring.check_cursor(self.ring.cursor_at_end()), Ok(()));
    }

    /// Everything observable without a cursor: counters and a whole-buffer dump.
    fn snapshot(&self) -> (RingCounters, Vec<u8>, (usize, u64)) {
        let mut out = vec![0; self.m.capacity];
        let got = self.ring.copy_recent(&mut out);
        (self.ring.counters(), out, got)
    }

    fn append(&mut self, len: usize, fill: u8, prefix: &[u8], forge: Option<&Forge>, ts: u64) {
        let mut payload = prefix[..prefix.len().min(len)].to_vec();
        payload.resize(len, fill);
        if let Some(f) = forge {
            let at = 8 * (usize::from(f.at) % (len / 8 + 1));
            let mut header = [0u8; RECORD_HEADER_SIZE];
            header[..4].copy_from_slice(&RECORD_MAGIC);
            header[4..8].copy_from_slice(&u32::from(f.length).to_le_bytes());
            header[8..16].copy_from_slice(&self.m.next_seq.wrapping_add_signed(i64::from(f.sequence)).to_le_bytes());
            let body = at + RECORD_HEADER_SIZE..at + RECORD_HEADER_SIZE + usize::from(f.length);
            if f.valid_crc && body.end <= len {
                let crc = record::record_crc(&header, &payload[body]).unwrap();
                header[28..].copy_from_slice(&crc.to_le_bytes());
            }
            let end = (at + RECORD_HEADER_SIZE).min(len);
            payload[at..end].copy_from_slice(&header[..end - at]);
        }
        let pid = u32::from(fill);
        let prepared = PreparedRecord::new(&payload, FileTime(ts), pid).unwrap();
        let size = (RECORD_HEADER_SIZE + len).next_multiple_of(8);
        assert_eq!(prepared.size(), size);
        let m = &mut self.m;
        if size > m.capacity {
            // Property: a record larger than the log is refused and changes nothing.
            let before = self.snapshot();
            assert_eq!(self.ring.append(&prepared), Err(RingError::RecordTooLarge { size, capacity: self.m.capacity }));
            assert_eq!(self.snapshot(), before, "a refused record changed the ring");
            return;
        }
        // Overwrite-oldest: drop records from the front until the new one fits.
        let mut dropped = 0;
        while m.head + size as u64 - m.tail > m.capacity as u64 {
            let r = m.retained.pop_front().expect("room is made from retained records");
            m.tail += r.size as u64;
            m.overwritten_records += 1;
            m.overwritten_bytes += r.size as u64;
            dropped += 1;
        }
        m.tail_seq = m.retained.front().map_or(m.next_seq, |r| r.seq);
        // Property: the append reports the sequence, position, size and losses the model expects.
        let expected = Appended { sequence: m.next_seq, position: m.head, size, dropped_records: dropped };
        assert_eq!(self.ring.append(&prepared), Ok(expected));
        let bytes = encode(m.next_seq, &payload, ts, pid);
        assert_eq!(bytes.len(), size);
        // Property: header_bytes is the documented layout.
        assert_eq!(&bytes[..RECORD_HEADER_SIZE], &prepared.header_bytes(m.next_seq));
        m.forged |= has_marker(&bytes[1..]);
        m.stream.extend_from_slice(&bytes);
        let rec = Rec { seq: m.next_seq, pos: m.head, size, payload, ts, pid };
        m.retained.push_back(rec.clone());
        m.history.push(rec);
        m.head += size as u64;
        m.next_seq += 1;
    }

    fn clear(&mut self) {
        // Property: clear reports the retained records and empties the log; positions and
        // sequences keep counting.
        let m = &mut self.m;
        assert_eq!(self.ring.clear(), m.retained.len() as u64);
        m.retained.clear();
        m.tail = m.head;
        m.tail_seq = m.next_seq;
    }

    /// Is `cursor` one `check_cursor` must accept? At the head with the next sequence; behind the
    /// tail with a sequence the tail has passed; otherwise exactly a retained record's position and
    /// sequence. Always 8-aligned and never ahead of the head.
    fn model_accepts(&self, cursor: ReadCursor) -> bool {
        let m = &self.m;
        if !cursor.position.is_multiple_of(8) || cursor.position > m.head {
            return false;
        }
        if cursor.position == m.head {
            return cursor.sequence == m.next_seq;
        }
        if cursor.position < m.tail {
            return cursor.sequence < m.tail_seq;
        }
        m.retained.iter().any(|r| r.pos == cursor.position && r.seq == cursor.sequence)
    }

    /// Reads through an accepted cursor into a buffer of `out_len` bytes and checks the outcome, the
    /// cursor and every byte against the model.
    fn read(&self, cursor: &mut ReadCursor, out_len: usize) {
        let m = &self.m;
        let start = *cursor;
        let mut from = start;
        let (mut lost_records, mut lost_bytes) = (0, 0);
        if start.position < m.tail {
            lost_records = m.tail_seq - start.sequence;
            lost_bytes = m.tail - start.position;
            // A genuine old cursor (a record boundary with its sequence) lost exactly the records
            // appended between it and the tail.
            if m.history.iter().any(|r| (r.pos, r.seq) == (start.position, start.sequence)) {
                let missed: Vec<&Rec> =
                    m.history.iter().filter(|r| r.pos >= start.position && r.pos < m.tail).collect();
                assert_eq!(missed.len() as u64, lost_records);
                assert_eq!(missed.iter().map(|r| r.size as u64).sum::<u64>(), lost_bytes);
            }
            from = ReadCursor { position: m.tail, sequence: m.tail_seq };
        }
        let mut taken: Vec<&Rec> = Vec::new();
        let mut bytes = 0;
        let mut too_small = None;
        for r in m.retained.iter().filter(|r| r.pos >= from.position) {
            if taken.is_empty() {
                assert_eq!((r.pos, r.seq), (from.position, from.sequence), "an accepted cursor is not at a record");
            }
            if bytes + r.size > out_len {
                if taken.is_empty() {
                    too_small = Some(RingError::BufferTooSmall { required: r.size });
                }
                break;
            }
            bytes += r.size;
            taken.push(r);
        }

        let mut out = vec![SENTINEL; out_len];
        let got = self.ring.read(cursor, &mut out);
        if let Some(err) = too_small {
            // Property: BufferTooSmall names the next record's size and leaves cursor and buffer alone.
            assert_eq!(got, Err(err));
            assert_eq!(*cursor, start, "a failed read moved the cursor");
            assert!(out.iter().all(|&b| b == SENTINEL), "a failed read wrote to the buffer");
            return;
        }
        // Property: the read returns exactly the model's records, the losses the model counts, and
        // moves the cursor past what it returned.
        let outcome =
            ReadOutcome { bytes, records: taken.len() as u64, first_sequence: from.sequence, lost_records, lost_bytes };
        assert_eq!(got, Ok(outcome));
        let next = ReadCursor { position: from.position + bytes as u64, sequence: from.sequence + taken.len() as u64 };
        assert_eq!(*cursor, next);
        // Property: the bytes are the stream's, nothing is written past them, and they decode to the
        // model's records with nothing skipped.
        assert_eq!(&out[..bytes], &m.stream[from.position as usize..next.position as usize], "read bytes differ");
        assert!(out[bytes..].iter().all(|&b| b == SENTINEL), "read wrote past the records it reported");
        let (decoded, totals) = decode_all(&out[..bytes]);
        assert_eq!(decoded, taken.iter().map(|r| r.decoded()).collect::<Vec<_>>());
        assert_eq!(totals, DecodeTotals { records: taken.len() as u64, bytes_skipped: 0, corrupt: 0 });
        assert_eq!(self.ring.check_cursor(*cursor), Ok(()));
    }

    /// Property: `copy_recent` gives the newest `min(capacity, head, out_len)` bytes of the stream and
    /// writes nothing else; without forged markers they decode to every record wholly inside that
    /// window after a torn prefix reported as skipped bytes, never as a corrupt record.
    fn copy_recent(&self, out_len: usize) {
        let m = &self.m;
        let mut out = vec![SENTINEL; out_len];
        let (len, start) = self.ring.copy_recent(&mut out);
        let window = m.capacity.min(out_len) as u64;
        assert_eq!(start, m.head.saturating_sub(window));
        assert_eq!(len as u64, m.head - start);
        assert_eq!(&out[..len], &m.stream[start as usize..m.head as usize]);
        assert!(out[len..].iter().all(|&b| b == SENTINEL));
        if !m.forged {
            let (decoded, totals) = decode_all(&out[..len]);
            let whole: Vec<Decoded> = m.history.iter().filter(|r| r.pos >= start).map(Rec::decoded).collect();
            let torn = m
                .history
                .iter()
                .find(|r| r.pos < start && r.pos + r.size as u64 > start)
                .map_or(0, |r| r.pos + r.size as u64 - start);
            assert_eq!(decoded, whole);
            assert_eq!(totals, DecodeTotals { records: whole.len() as u64, bytes_skipped: torn, corrupt: 0 });
        }
    }

    /// A foreign cursor: check_cursor must decide as the model does; an accepted one reads like a
    /// genuine one; a refused one may only ever read bytes between the tail and the head.
    fn read_at(&self, cursor: ReadCursor) {
        let m = &self.m;
        let accepted = self.model_accepts(cursor);
        let checked = self.ring.check_cursor(cursor);
        assert_eq!(checked.is_ok(), accepted, "check_cursor({cursor:?}) = {checked:?}");
        if accepted {
            self.read(&mut cursor.clone(), 2 * m.capacity);
            return;
        }
        assert_eq!(checked, Err(RingError::InvalidCursor));
        // The driver never reads through a refused cursor; if something did, it must still not
        // leak dropped records or read past the head.
        let mut moved = cursor;
        let mut out = vec![SENTINEL; 2 * m.capacity];
        match self.ring.read(&mut moved, &mut out) {
            Ok(outcome) => {
                assert!(cursor.position >= m.tail && moved.position <= m.head, "read escaped [tail, head]");
                assert_eq!(moved.position, cursor.position + outcome.bytes as u64);
                let range = cursor.position as usize..moved.position as usize;
                assert_eq!(&out[..outcome.bytes], &m.stream[range]);
            }
            Err(_) => {
                assert_eq!(moved, cursor);
                assert!(out.iter().all(|&b| b == SENTINEL));
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let storage_len = MIN_CAPACITY + usize::from(input.capacity) % (4096 - MIN_CAPACITY + 1);
    let mut h = Harness::new(storage_len);
    h.check();
    let capacity = h.m.capacity;
    let mut readers = [h.ring.cursor_at_oldest(); READERS];
    for (step, op) in input.ops.iter().take(MAX_OPS).enumerate() {
        match op {
            Op::Append { len, fill, prefix, forge } => {
                h.append(usize::from(*len) % (capacity + 16), *fill, prefix, forge.as_ref(), step as u64);
            }
            Op::Read { reader, buf_len } => {
                let cursor = &mut readers[usize::from(*reader) % READERS];
                // A reader's cursor is genuine: the ring handed it out, so it must still be accepted.
                assert!(h.model_accepts(*cursor));
                h.read(cursor, usize::from(*buf_len) % (2 * capacity + 1));
            }
            Op::Clear => h.clear(),
            Op::CopyRecent { buf_len } => h.copy_recent(usize::from(*buf_len) % (2 * capacity + 1)),
            Op::ReadAt { base, position, sequence } => {
                let bases = h.m.history.len() + 1;
                let (pos, seq) = match h.m.history.get(usize::from(*base) % bases) {
                    Some(r) => (r.pos, r.seq),
                    None => (h.m.head, h.m.next_seq),
                };
                let cursor = ReadCursor {
                    position: pos.wrapping_add_signed(i64::from(*position)),
                    sequence: seq.wrapping_add_signed(i64::from(*sequence)),
                };
                h.read_at(cursor);
            }
        }
        h.check();
        // Property: the readers' cursors stay valid whatever happens to the log.
        for cursor in readers {
            assert_eq!(h.ring.check_cursor(cursor), Ok(()), "a reader's cursor became invalid: {cursor:?}");
        }
    }
    // Finally every reader catches up, losing exactly what the model says.
    h.copy_recent(capacity);
    for cursor in &mut readers {
        h.read(cursor, 2 * capacity);
        assert_eq!(*cursor, h.ring.cursor_at_end());
    }
});
