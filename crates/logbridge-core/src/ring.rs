//! The ring log: a flight recorder in the manner of `NdisMWriteLogData`.
//!
//! # Model
//! The log is a byte stream written into a circular buffer of `capacity` bytes (the driver gives it
//! nonpaged memory; 1 MiB by default). `capacity` is the largest power of two that the storage
//! holds, so that a position becomes an offset with a mask, not a division. Every position is a
//! 64-bit *stream offset*: the number of bytes written before it since the log was created.
//! Physical offset = position mod capacity.
//! Positions never wrap in practice (2^64 bytes), so a position names one byte of history forever.
//!
//! ```text
//!     stream:  ... overwritten ... | tail ........ retained records ........ head | future
//!     buffer:  [ newer records | head→ free/oldest-torn | tail→ oldest records ... ]
//! ```
//! * `head` is where the next record goes; `tail` is the start of the oldest record still whole.
//!   `0 <= head - tail <= capacity`, both multiples of 8, and `tail` is always a record boundary.
//! * Records are framed as in [`crate::record`] (marker, length, sequence, timestamp, pid, CRC-32C),
//!   so a reader who starts anywhere, or a dump of the raw buffer, can find the boundaries.
//! * A record may wrap around the physical end of the buffer; it is copied in two pieces.
//!
//! # States and transitions (all under the caller's lock)
//! * **append** makes room first: while the new record would not fit between `tail` and
//!   `tail + capacity`, the oldest record is dropped (`tail` moves past it, and `tail_sequence` by
//!   one). This is overwrite-oldest, as a flight recorder should be. Then the record is copied at
//!   `head` and `head` moves. A record larger than the whole log is refused
//!   ([`RingError::RecordTooLarge`], `NdisMWriteLogData`'s `NDIS_STATUS_BUFFER_OVERFLOW`) *before* anything moves, so nothing already logged is lost.
//! * **read** copies whole records from a reader's cursor, never past `head`. A cursor behind `tail`
//!   fell behind: the reader is moved to `tail` and told how many bytes and records it lost.
//!   Cursors the ring handed out are trusted after a cheap check (aligned, not past `head`, a
//!   header with the cursor's sequence at that place). A cursor that comes from outside (a
//!   `READ_LOG` request with an explicit position) must first pass [`RingLog::check_cursor`],
//!   which walks the record chain from `tail`: a header forged inside a payload is not a record
//!   boundary, so it is refused (`STATUS_INVALID_PARAMETER`), as is a cursor past `head` or misaligned.
//! * **clear** (the `NdisMFlushLog` analogue) moves `tail` to `head`. Sequence numbers and positions
//!   keep counting, so readers see the cleared records as lost, never as repeated.
//!
//! # Why this is safe
//! Every operation is a plain `&mut self` / `&self` method: the caller serialises them with one lock
//! (a WDFSPINLOCK in the driver; a mutex in the model and tests). Inside the lock the ring only
//! copies bytes: it allocates nothing, calls no kernel routine and does at most one pass over the
//! records it drops. Every index is checked; if the ring ever found its own memory corrupted (a
//! header at `tail` that does not parse), it drops everything and counts a repair instead of
//! trusting a bad length.

use crate::record::{PreparedRecord, RECORD_ALIGN, RECORD_HEADER_SIZE, RecordHeader, declared_length, record_size};

/// The smallest usable log.
pub const MIN_CAPACITY: usize = 256;
/// The default log size (1 MiB).
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// A ring-log failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The storage is smaller than [`MIN_CAPACITY`].
    StorageTooSmall {
        /// Usable bytes (the largest power of two the storage holds).
        capacity: usize,
    },
    /// The record is larger than the whole log (`NdisMWriteLogData`'s `NDIS_STATUS_BUFFER_OVERFLOW`;
    /// the driver completes the write with `STATUS_INVALID_BUFFER_SIZE`).
    RecordTooLarge {
        /// The record size.
        size: usize,
        /// The log capacity.
        capacity: usize,
    },
    /// The reader's buffer cannot hold the next record (`STATUS_BUFFER_TOO_SMALL`).
    BufferTooSmall {
        /// Bytes needed for the next record.
        required: usize,
    },
    /// The cursor is ahead of the log, misaligned or not at a record (`STATUS_INVALID_PARAMETER`).
    InvalidCursor,
    /// 2^64 bytes have been written.
    PositionExhausted,
}

/// Where a reader is: the stream position of the next record it wants, and that record's sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCursor {
    /// Stream position.
    pub position: u64,
    /// Sequence number of the record at `position`.
    pub sequence: u64,
}

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The record's sequence number.
    pub sequence: u64,
    /// Its stream position.
    pub position: u64,
    /// Its size in the ring.
    pub size: usize,
    /// Older records dropped to make room.
    pub dropped_records: u64,
}

/// What a read did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes copied (whole records).
    pub bytes: usize,
    /// Records copied.
    pub records: u64,
    /// Sequence number of the first record copied (or of the next record to come, if none).
    pub first_sequence: u64,
    /// Records the reader missed because they were overwritten or cleared.
    pub lost_records: u64,
    /// Bytes the reader missed.
    pub lost_bytes: u64,
}

/// A snapshot of the ring's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingCounters {
    /// Capacity in bytes.
    pub capacity: u64,
    /// Stream position of the next record.
    pub head: u64,
    /// Stream position of the oldest retained record.
    pub tail: u64,
    /// Sequence number the next record gets.
    pub next_sequence: u64,
    /// Sequence number of the oldest retained record.
    pub oldest_sequence: u64,
    /// Records dropped to make room.
    pub overwritten_records: u64,
    /// Bytes dropped to make room.
    pub overwritten_bytes: u64,
    /// Times the log found a bad header at its tail and dropped everything.
    pub repairs: u64,
}

/// The ring log over storage `S` (nonpaged memory in the driver, a `Vec<u8>` on the host).
#[derive(Debug)]
pub struct RingLog<S> {
    storage: S,
    capacity: usize,
    mask: u64,
    head: u64,
    tail: u64,
    next_sequence: u64,
    tail_sequence: u64,
    overwritten_records: u64,
    overwritten_bytes: u64,
    repairs: u64,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> RingLog<S> {
    /// A log over `storage`, of which it uses the largest power of two (so 1 MiB of storage is a
    /// 1 MiB log, and 1.5 MiB is a 1 MiB log too). It zeroes the storage so that no stale memory
    /// can ever be read out of it.
    pub fn new(mut storage: S) -> Result<Self, RingError> {
        let len = storage.as_ref().len();
        let capacity = match len.checked_ilog2() {
            Some(bits) => 1usize.checked_shl(bits).unwrap_or(0),
            None => 0,
        };
        if capacity < MIN_CAPACITY {
            return Err(RingError::StorageTooSmall { capacity });
        }
        let mask = u64::try_from(capacity).map_err(|_| RingError::StorageTooSmall { capacity })?.saturating_sub(1);
        storage.as_mut().fill(0);
        Ok(RingLog {
            storage,
            capacity,
            mask,
            head: 0,
            tail: 0,
            next_sequence: 0,
            tail_sequence: 0,
            overwritten_records: 0,
            overwritten_bytes: 0,
            repairs: 0,
        })
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The largest payload a record can carry in this log.
    pub fn max_payload(&self) -> usize {
        self.capacity.saturating_sub(RECORD_HEADER_SIZE)
    }

    /// Bytes of retained records.
    pub fn used(&self) -> u64 {
        self.head.saturating_sub(self.tail)
    }

    /// Retained records.
    pub fn record_count(&self) -> u64 {
        self.next_sequence.saturating_sub(self.tail_sequence)
    }

    /// The counters.
    pub fn counters(&self) -> RingCounters {
        RingCounters {
            capacity: u64::try_from(self.capacity).unwrap_or(u64::MAX),
            head: self.head,
            tail: self.tail,
            next_sequence: self.next_sequence,
            oldest_sequence: self.tail_sequence,
            overwritten_records: self.overwritten_records,
            overwritten_bytes: self.overwritten_bytes,
            repairs: self.repairs,
        }
    }

    /// A cursor at the oldest retained record.
    pub fn cursor_at_oldest(&self) -> ReadCursor {
        ReadCursor { position: self.tail, sequence: self.tail_sequence }
    }

    /// A cursor after the newest record: it sees only what is written from now on.
    pub fn cursor_at_end(&self) -> ReadCursor {
        ReadCursor { position: self.head, sequence: self.next_sequence }
    }

    /// Appends a record, dropping the oldest ones as needed. Refuses a record larger than the log
    /// without changing anything.
    pub fn append(&mut self, record: &PreparedRecord<'_>) -> Result<Appended, RingError> {
        let size = record.size();
        if size > self.capacity {
            return Err(RingError::RecordTooLarge { size, capacity: self.capacity });
        }
        let size64 = u64::try_from(size).map_err(|_| RingError::PositionExhausted)?;
        let new_head = self.head.checked_add(size64).ok_or(RingError::PositionExhausted)?;
        let capacity64 = u64::try_from(self.capacity).map_err(|_| RingError::PositionExhausted)?;
        let mut dropped_records = 0u64;
        // Each pass drops at least one 32-byte record, so this many passes always suffice; the
        // bound keeps a corrupted ring from spinning under the lock.
        let mut passes_left = (self.capacity / RECORD_HEADER_SIZE).saturating_add(1);
        while new_head.saturating_sub(self.tail) > capacity64 {
            passes_left = match passes_left.checked_sub(1) {
                Some(left) => left,
                None => {
                    self.repair();
                    break;
                }
            };
            match self.record_size_at(self.tail) {
                Some(oldest_size) => {
                    let oldest_size = u64::try_from(oldest_size).unwrap_or(u64::MAX);
                    self.tail = self.tail.saturating_add(oldest_size).min(self.head);
                    self.tail_sequence = self.tail_sequence.saturating_add(1);
                    self.overwritten_records = self.overwritten_records.saturating_add(1);
                    self.overwritten_bytes = self.overwritten_bytes.saturating_add(oldest_size);
                    dropped_records = dropped_records.saturating_add(1);
                }
                None => self.repair(),
            }
        }
        let sequence = self.next_sequence;
        let position = self.head;
        let payload = record.payload();
        let padding_len = size.saturating_sub(RECORD_HEADER_SIZE).saturating_sub(payload.len());
        let padding = [0u8; RECORD_ALIGN];
        let padding = padding.get(..padding_len).unwrap_or(&[]);
        let offset = self.offset_of(position);
        // Where the record does not wrap (all but one record per trip around the buffer), one
        // contiguous slot takes header, payload and padding.
        let end = offset.checked_add(size).filter(|&end| end <= self.capacity);
        let slot = end.and_then(|end| self.storage.as_mut().get_mut(offset..end));
        match slot.and_then(|slot| slot.split_at_mut_checked(RECORD_HEADER_SIZE)) {
            Some((header_slot, rest)) if rest.len() == payload.len().saturating_add(padding.len()) => {
                record.write_header(sequence, header_slot);
                let (payload_slot, padding_slot) = rest.split_at_mut(payload.len());
                payload_slot.copy_from_slice(payload);
                padding_slot.copy_from_slice(padding);
            }
            _ => {
                self.write_at(position, &record.header_bytes(sequence));
                self.write_at(position.saturating_add(32), payload);
                let payload64 = u64::try_from(payload.len()).unwrap_or(u64::MAX);
                self.write_at(position.saturating_add(32).saturating_add(payload64), padding);
            }
        }
        self.head = new_head;
        self.next_sequence = self.next_sequence.saturating_add(1);
        Ok(Appended { sequence, position, size, dropped_records })
    }

    /// Checks a cursor that came from outside the ring (a reader's explicit position): it must be
    /// aligned and not ahead of the log; behind the tail its sequence must be behind the tail's;
    /// between tail and head it must be a real record boundary with that record's sequence, which
    /// is established by walking the record chain from the tail (at most `capacity / 32` steps).
    pub fn check_cursor(&self, cursor: ReadCursor) -> Result<(), RingError> {
        self.check_cursor_cheaply(cursor)?;
        if cursor.position < self.tail || cursor.position == self.head {
            return Ok(());
        }
        let mut at = self.cursor_at_oldest();
        let mut steps_left = (self.capacity / RECORD_HEADER_SIZE).saturating_add(1);
        while at.position < cursor.position && steps_left > 0 {
            let Some(header) = self.header_at(at.position) else { break };
            let size = u64::try_from(header.record_size()).unwrap_or(u64::MAX);
            at = ReadCursor { position: at.position.saturating_add(size), sequence: at.sequence.saturating_add(1) };
            steps_left = steps_left.saturating_sub(1);
        }
        if at == cursor { Ok(()) } else { Err(RingError::InvalidCursor) }
    }

    /// The check of a cursor that needs no record bytes: aligned, not ahead of the log, a
    /// sequence behind the tail's if behind the tail, the right sequence at head.
    fn check_cursor_bounds(&self, cursor: ReadCursor) -> Result<(), RingError> {
        let aligned = cursor.position.is_multiple_of(8);
        if !aligned || cursor.position > self.head {
            return Err(RingError::InvalidCursor);
        }
        if cursor.position == self.head && cursor.sequence != self.next_sequence {
            return Err(RingError::InvalidCursor);
        }
        if cursor.position < self.tail && cursor.sequence >= self.tail_sequence {
            // Behind: the record there was dropped, so its sequence is below the tail's.
            return Err(RingError::InvalidCursor);
        }
        Ok(())
    }

    /// The check `read` makes of every cursor: [`Self::check_cursor_bounds`], and between tail
    /// and head a header with the cursor's sequence whose record ends by the head (`read` itself
    /// checks that header as it reads it, so it parses each header once).
    fn check_cursor_cheaply(&self, cursor: ReadCursor) -> Result<(), RingError> {
        self.check_cursor_bounds(cursor)?;
        if cursor.position < self.tail || cursor.position == self.head {
            return Ok(());
        }
        match self.header_at(cursor.position) {
            Some(h) if h.sequence == cursor.sequence && self.ends_by_head(cursor.position, &h) => Ok(()),
            _ => Err(RingError::InvalidCursor),
        }
    }

    fn ends_by_head(&self, position: u64, header: &RecordHeader) -> bool {
        let size = u64::try_from(header.record_size()).unwrap_or(u64::MAX);
        position.checked_add(size).is_some_and(|end| end <= self.head)
    }

    /// Copies whole records from `cursor` into `out` and advances the cursor past them.
    ///
    /// With nothing new, returns zero records (the driver then pends the request). If `out` cannot
    /// hold even the next record, fails with [`RingError::BufferTooSmall`] and leaves the cursor alone.
    pub fn read(&self, cursor: &mut ReadCursor, out: &mut [u8]) -> Result<ReadOutcome, RingError> {
        self.check_cursor_bounds(*cursor)?;
        let mut from = *cursor;
        let mut outcome = ReadOutcome::default();
        if from.position < self.tail {
            outcome.lost_bytes = self.tail.saturating_sub(from.position);
            outcome.lost_records = self.tail_sequence.saturating_sub(from.sequence);
            from = self.cursor_at_oldest();
        }
        outcome.first_sequence = from.sequence;
        let mut position = from.position;
        let mut written = 0usize;
        while position < self.head {
            // Never past the head: a record that would end beyond it is not one the ring wrote. The
            // first record must be the cursor's (the rest of `check_cursor_cheaply`, done here so
            // that each header is parsed once).
            let first = outcome.records == 0;
            let Some(header) = self
                .header_at(position)
                .filter(|h| self.ends_by_head(position, h) && (!first || h.sequence == from.sequence))
            else {
                if first {
                    return Err(RingError::InvalidCursor);
                }
                break;
            };
            let size = header.record_size();
            let end = written.saturating_add(size);
            let Some(slot) = out.get_mut(written..end) else {
                if outcome.records == 0 {
                    return Err(RingError::BufferTooSmall { required: size });
                }
                break;
            };
            self.read_at(position, slot);
            written = end;
            position = position.saturating_add(u64::try_from(size).unwrap_or(u64::MAX));
            outcome.records = outcome.records.saturating_add(1);
        }
        outcome.bytes = written;
        *cursor = ReadCursor { position, sequence: from.sequence.saturating_add(outcome.records) };
        Ok(outcome)
    }

    /// Empties the log (`NdisMFlushLog`): the tail moves to the head.
    pub fn clear(&mut self) -> u64 {
        let dropped = self.record_count();
        self.tail = self.head;
        self.tail_sequence = self.next_sequence;
        dropped
    }

    /// Copies the newest `min(capacity, head, out.len())` bytes of the stream, oldest first, into
    /// `out`: with a buffer of [`capacity`](Self::capacity) bytes, a dump of the whole buffer as a
    /// crash-dump reader would find it, starting with whatever is left of the oldest overwritten
    /// record. Returns the bytes copied and the stream position of the first of them.
    pub fn copy_recent(&self, out: &mut [u8]) -> (usize, u64) {
        let window = self.capacity.min(out.len());
        let start = self.head.saturating_sub(u64::try_from(window).unwrap_or(u64::MAX));
        let len = usize::try_from(self.head.saturating_sub(start)).unwrap_or(0).min(out.len());
        if let Some(dst) = out.get_mut(..len) {
            self.read_at(start, dst);
        }
        (len, start)
    }

    fn repair(&mut self) {
        self.tail = self.head;
        self.tail_sequence = self.next_sequence;
        self.repairs = self.repairs.saturating_add(1);
    }

    fn header_at(&self, position: u64) -> Option<RecordHeader> {
        let offset = self.offset_of(position);
        let header = match self.contiguous(offset, RECORD_HEADER_SIZE) {
            Some(bytes) => RecordHeader::parse(bytes),
            None => {
                let mut bytes = [0u8; RECORD_HEADER_SIZE];
                self.read_at(position, &mut bytes);
                RecordHeader::parse(&bytes)
            }
        };
        header.filter(|h| h.record_size() <= self.capacity)
    }

    /// The size of the record at `position`, from its marker and length alone (what dropping the
    /// oldest record needs), with `header_at`'s checks.
    fn record_size_at(&self, position: u64) -> Option<usize> {
        let offset = self.offset_of(position);
        let length = match self.contiguous(offset, 8) {
            Some(bytes) => declared_length(bytes)?,
            None => {
                let mut start = [0u8; 8];
                self.read_at(position, &mut start);
                declared_length(&start)?
            }
        };
        record_size(usize::try_from(length).ok()?).filter(|&size| size <= self.capacity)
    }

    /// `len` bytes at `offset` if they do not cross the end of the buffer.
    fn contiguous(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len).filter(|&end| end <= self.capacity)?;
        self.storage.as_ref().get(offset..end)
    }

    fn offset_of(&self, position: u64) -> usize {
        // capacity is a power of two no larger than the storage: the offset always fits.
        usize::try_from(position & self.mask).unwrap_or(0)
    }

    fn write_at(&mut self, position: u64, src: &[u8]) {
        let offset = self.offset_of(position);
        let capacity = self.capacity;
        let buffer = self.storage.as_mut();
        let first = src.len().min(capacity.saturating_sub(offset));
        let (a, b) = src.split_at(first);
        if let Some(dst) = buffer.get_mut(offset..offset.saturating_add(a.len())) {
            dst.copy_from_slice(a);
        }
        if let Some(dst) = buffer.get_mut(..b.len()) {
            dst.copy_from_slice(b);
        }
    }

    fn read_at(&self, position: u64, dst: &mut [u8]) {
        let offset = self.offset_of(position);
        let buffer = self.storage.as_ref();
        let first = dst.len().min(self.capacity.saturating_sub(offset));
        let (a, b) = dst.split_at_mut(first);
        if let Some(src) = buffer.get(offset..offset.saturating_add(a.len())) {
            a.copy_from_slice(src);
        }
        if let Some(src) = buffer.get(..b.len()) {
            b.copy_from_slice(src);
        }
    }
}
