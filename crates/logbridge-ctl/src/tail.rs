//! Reading the ring log through `IOCTL_LOGBRIDGE_READ_LOG`, without the Win32 calls.
//!
//! The driver keeps one read cursor per handle. A `READ_LOG` request (see
//! [`logbridge_core::ioctl`]) picks where the cursor starts (`READ_MODE_OLDEST`, `READ_MODE_END`,
//! or `READ_MODE_CONTINUE` from where the last read stopped) and whether to wait. The reply is a
//! [`ReadLogResponse`] header followed by whole records, which the core's stream decoder
//! ([`RecordDecoder`]) splits and checks (magic, length, CRC). When the next record does not fit,
//! the request fails with `STATUS_BUFFER_TOO_SMALL` (Win32 `ERROR_INSUFFICIENT_BUFFER`) and the
//! header, written straight into the caller's buffer by `METHOD_OUT_DIRECT`, carries the size
//! needed: the session grows its buffer and asks again with the same request, since a failed read
//! does not move the cursor.
//!
//! [`ReadLogSession`] is that protocol as a state machine: the Windows layer asks it for the next
//! request and buffer size, issues the `DeviceIoControl` (overlapped when following, so that Ctrl+C
//! can cancel the pending read), and hands the reply back; the session returns what to print.
//!
//! | Command | First request | Then | Ends |
//! |---|---|---|---|
//! | `tail` | `OLDEST`, don't wait | `CONTINUE`, don't wait | when a read returns no record |
//! | `tail --follow` | `END`, wait | `CONTINUE`, wait | on Ctrl+C (the pending read is cancelled) |
//! | `tail --follow --from-start` | `OLDEST`, wait | `CONTINUE`, wait | on Ctrl+C |
//!
//! Ctrl+C sets a stop flag and cancels the I/O pending on the handle (`CancelIoEx`). A Ctrl+C that
//! lands after the loop checked the flag but before the `DeviceIoControl` was issued finds nothing
//! to cancel, and the read it then issues would wait for the next write, maybe forever. So the
//! flag is checked again once the read is pending ([`after_issue`]): set, the read is cancelled
//! there and then. Whichever comes second, the handler's `CancelIoEx` or this check, sees the
//! other's work (the flag is set before the handler cancels; the read is pending before the
//! check).
//!
//! [`match_writes`] finds the records of this process's own writes, which is how `write` learns
//! the sequence numbers the driver gave them and how `verify` checks the ring channel.

use crate::decode::RingRecordJson;
use logbridge_core::ioctl::{self, READ_LOG_RESPONSE_SIZE, ReadLogRequest, ReadLogResponse};
use logbridge_core::record::{self, RecordDecoder, RecordView};
use logbridge_core::ring::ReadCursor;
use logbridge_core::time::FileTime;
use serde::Serialize;
use zerocopy::FromBytes;
use zerocopy::IntoBytes;

/// The output buffer a session starts with (64 KiB: hundreds of typical records per read).
pub const INITIAL_BUFFER_SIZE: usize = 64 << 10;

/// The largest output buffer a session grows to: the header plus the largest record the driver
/// can store (a record header and [`record::MAX_RECORD_PAYLOAD`] bytes, aligned).
pub const MAX_BUFFER_SIZE: usize =
    READ_LOG_RESPONSE_SIZE + record::RECORD_HEADER_SIZE + (16 << 20) + record::RECORD_ALIGN;

/// One ring-log record, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailRecord {
    /// The record's sequence number.
    pub sequence: u64,
    /// When the driver received the write.
    pub timestamp: FileTime,
    /// The writer's process id.
    pub process_id: u32,
    /// The written bytes.
    pub payload: Vec<u8>,
}

impl From<&RecordView<'_>> for TailRecord {
    fn from(view: &RecordView<'_>) -> TailRecord {
        TailRecord {
            sequence: view.header.sequence,
            timestamp: view.header.timestamp,
            process_id: view.header.process_id,
            payload: view.payload.to_vec(),
        }
    }
}

impl TailRecord {
    /// One text line: sequence, time, pid, length and the payload (text when it is printable
    /// UTF-8, otherwise hex).
    pub fn to_line(&self) -> String {
        format!(
            "#{:<8} {}  pid {:<6} {:>6} B  {}",
            self.sequence,
            format_filetime(self.timestamp),
            self.process_id,
            self.payload.len(),
            payload_text(&self.payload)
        )
    }

    /// The JSON object of `tail --json` (the same keys as `decode ring`).
    pub fn to_json(&self) -> RingRecordJson {
        RingRecordJson {
            sequence: self.sequence,
            timestamp: self.timestamp.0,
            pid: self.process_id,
            length: u32::try_from(self.payload.len()).unwrap_or(u32::MAX),
            payload: crate::hex::encode(&self.payload),
        }
    }
}

/// A FILETIME as RFC 3339 UTC with microseconds; the raw value when RFC 3339 cannot show it.
pub fn format_filetime(time: FileTime) -> String {
    crate::wmi_event::rfc3339(time, false).unwrap_or_else(|| format!("filetime:{}", time.0))
}

/// The payload as one line: printable UTF-8 as text (control characters escaped), otherwise hex.
pub fn payload_text(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) if text.chars().all(|c| !c.is_control() || c == '\t') => text.to_owned(),
        Ok(text) if text.chars().filter(|c| c.is_control()).count() * 8 < text.chars().count().max(1) => {
            text.escape_debug().to_string()
        }
        _ => format!("hex:{}", crate::hex::encode(payload)),
    }
}

/// What a reply means for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailEvent {
    /// The cursor fell behind: these records were overwritten (or cleared) before they were read.
    Lost {
        /// Records missed.
        records: u64,
        /// Bytes missed.
        bytes: u64,
    },
    /// A record.
    Record(TailRecord),
    /// Bytes in the reply that did not decode as records (the driver never sends them; reported,
    /// never silently dropped).
    Corrupt {
        /// How many bytes.
        bytes: u64,
    },
}

impl TailEvent {
    /// One text line.
    pub fn to_line(&self) -> String {
        match self {
            TailEvent::Lost { records, bytes } => {
                format!(
                    "-- {records} record(s) ({bytes} bytes) lost: overwritten or cleared before this reader got them"
                )
            }
            TailEvent::Record(record) => record.to_line(),
            TailEvent::Corrupt { bytes } => format!("-- {bytes} byte(s) of the reply did not decode as records"),
        }
    }

    /// One JSON line.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            TailEvent::Lost { records, bytes } => serde_json::json!({"lost_records": records, "lost_bytes": bytes}),
            TailEvent::Record(record) => serde_json::to_value(record.to_json()).unwrap_or(serde_json::Value::Null),
            TailEvent::Corrupt { bytes } => serde_json::json!({"corrupt_bytes": bytes}),
        }
    }
}

/// How the `DeviceIoControl` of a read ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyStatus {
    /// Success; `returned` bytes of the buffer are valid.
    Success {
        /// The byte count `DeviceIoControl` reported.
        returned: usize,
    },
    /// `ERROR_INSUFFICIENT_BUFFER` (`STATUS_BUFFER_TOO_SMALL`): the header holds the size needed.
    BufferTooSmall,
}

/// What to do once an overlapped request has been issued (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterIssue {
    /// It completed at once: collect the result.
    Completed,
    /// It is pending and no stop was asked for: wait for it (Ctrl+C will cancel it).
    Wait,
    /// It is pending and a stop was asked for before it was: cancel it, then wait for the
    /// cancellation to complete it.
    CancelThenWait,
}

/// The decision after issuing an overlapped request: `pending` if the call returned
/// `ERROR_IO_PENDING`, `stop_requested` read after that.
pub fn after_issue(pending: bool, stop_requested: bool) -> AfterIssue {
    match (pending, stop_requested) {
        (false, _) => AfterIssue::Completed,
        (true, false) => AfterIssue::Wait,
        (true, true) => AfterIssue::CancelThenWait,
    }
}

/// The `READ_LOG` protocol of one handle (see the module documentation).
#[derive(Clone, Debug)]
pub struct ReadLogSession {
    follow: bool,
    first_mode: u32,
    started: bool,
    finished: bool,
    buffer_size: usize,
    /// The continuation point of the last reply (for `--json` users and diagnostics).
    next_sequence: Option<u64>,
}

impl ReadLogSession {
    /// A session for `tail` (`follow` waits for new records; `from_start` starts at the oldest
    /// retained record, which is also where a non-following `tail` starts).
    pub fn new(follow: bool, from_start: bool) -> ReadLogSession {
        let first_mode = if from_start || !follow { ioctl::READ_MODE_OLDEST } else { ioctl::READ_MODE_END };
        ReadLogSession::with_mode(follow, first_mode)
    }

    /// A session whose first request uses `first_mode` (a `READ_MODE_*`).
    pub fn with_mode(follow: bool, first_mode: u32) -> ReadLogSession {
        ReadLogSession {
            follow,
            first_mode,
            started: false,
            finished: false,
            buffer_size: INITIAL_BUFFER_SIZE,
            next_sequence: None,
        }
    }

    /// The input of the next `READ_LOG` (32 bytes).
    pub fn request(&self) -> ReadLogRequest {
        let mode = if self.started { ioctl::READ_MODE_CONTINUE } else { self.first_mode };
        let flags = if self.follow { 0 } else { ioctl::READ_FLAG_DONT_WAIT };
        // The position fields matter only for READ_MODE_POSITION, which a session never uses.
        logbridge_core::device::read_request(mode, flags, ReadCursor::default())
    }

    /// The input of the next `READ_LOG` as bytes.
    pub fn request_bytes(&self) -> [u8; ioctl::READ_LOG_REQUEST_SIZE] {
        let mut bytes = [0u8; ioctl::READ_LOG_REQUEST_SIZE];
        // The request is exactly READ_LOG_REQUEST_SIZE bytes.
        let _ = self.request().write_to(&mut bytes[..]);
        bytes
    }

    /// The output buffer size the next read needs.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// True once a non-following session has read everything.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The sequence number the next record will have, per the last reply.
    pub fn next_sequence(&self) -> Option<u64> {
        self.next_sequence
    }

    /// Takes the reply of the last request: `buffer` is the whole output buffer. Returns what to
    /// show, or a one-line error for a reply that breaks the contract.
    pub fn on_reply(&mut self, buffer: &[u8], status: ReplyStatus) -> Result<Vec<TailEvent>, String> {
        let Ok((header, _)) = ReadLogResponse::read_from_prefix(buffer) else {
            return Err(format!("READ_LOG reply of {} bytes is shorter than its header", buffer.len()));
        };
        if usize::try_from(header.size.get()).ok() != Some(READ_LOG_RESPONSE_SIZE)
            || header.version.get() != ioctl::CONTRACT_VERSION
        {
            return Err(format!(
                "READ_LOG reply has size {} and version {}; this logbridge-ctl speaks version {} (size {})",
                header.size.get(),
                header.version.get(),
                ioctl::CONTRACT_VERSION,
                READ_LOG_RESPONSE_SIZE
            ));
        }
        match status {
            ReplyStatus::BufferTooSmall => {
                let required = usize::try_from(header.required_size.get()).unwrap_or(usize::MAX);
                if required <= self.buffer_size {
                    return Err(format!(
                        "READ_LOG said its buffer of {} bytes is too small but asked for {required}",
                        self.buffer_size
                    ));
                }
                if required > MAX_BUFFER_SIZE {
                    return Err(format!("READ_LOG asked for a {required}-byte buffer, more than any record needs"));
                }
                self.buffer_size = required;
                Ok(Vec::new())
            }
            ReplyStatus::Success { returned } => self.on_records(buffer, &header, returned),
        }
    }

    fn on_records(
        &mut self,
        buffer: &[u8],
        header: &ReadLogResponse,
        returned: usize,
    ) -> Result<Vec<TailEvent>, String> {
        let bytes = usize::try_from(header.bytes.get()).unwrap_or(usize::MAX);
        let end = READ_LOG_RESPONSE_SIZE.saturating_add(bytes);
        let Some(body) = buffer.get(READ_LOG_RESPONSE_SIZE..end).filter(|_| end <= returned) else {
            return Err(format!(
                "READ_LOG reply claims {bytes} record bytes but only {returned} bytes (with the header) arrived"
            ));
        };
        self.started = true;
        self.next_sequence = Some(header.next_sequence.get());
        let mut events = Vec::new();
        if header.lost_records.get() > 0 || header.lost_bytes.get() > 0 {
            events.push(TailEvent::Lost { records: header.lost_records.get(), bytes: header.lost_bytes.get() });
        }
        let mut decoder = RecordDecoder::new(body);
        for view in decoder.by_ref() {
            events.push(TailEvent::Record(TailRecord::from(&view)));
        }
        let totals = decoder.totals();
        if totals.bytes_skipped > 0 {
            events.push(TailEvent::Corrupt { bytes: totals.bytes_skipped });
        }
        if totals.records != u64::from(header.records.get()) {
            return Err(format!(
                "READ_LOG reply announces {} records but {} decoded",
                header.records.get(),
                totals.records
            ));
        }
        if !self.follow && header.records.get() == 0 && header.lost_records.get() == 0 {
            self.finished = true;
        }
        Ok(events)
    }
}

/// For each of this process's writes, in the order they were issued, the sequence number of its
/// record: the next record from `process_id` with exactly these bytes. `None` where no record
/// matches (overwritten before it was read, or rejected by the driver).
pub fn match_writes(written: &[Vec<u8>], process_id: u32, records: &[TailRecord]) -> Vec<Option<u64>> {
    let mut ours = records.iter().filter(|r| r.process_id == process_id).peekable();
    written
        .iter()
        .map(|payload| {
            // Writes from one thread reach the ring in order; skip records that are not this one.
            let mut probe = ours.clone();
            let found = probe.by_ref().find(|r| r.payload == *payload)?;
            ours = probe;
            Some(found.sequence)
        })
        .collect()
}

/// What a session showed, counted (the last line of `tail --json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TailTotals {
    /// Records printed.
    pub records: u64,
    /// Records reported lost.
    pub lost_records: u64,
    /// Bytes that did not decode.
    pub corrupt_bytes: u64,
}

impl TailTotals {
    /// Counts `events`.
    pub fn add(&mut self, events: &[TailEvent]) {
        for event in events {
            match event {
                TailEvent::Record(_) => self.records = self.records.saturating_add(1),
                TailEvent::Lost { records, .. } => self.lost_records = self.lost_records.saturating_add(*records),
                TailEvent::Corrupt { bytes } => self.corrupt_bytes = self.corrupt_bytes.saturating_add(*bytes),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use logbridge_core::NtStatus;
    use logbridge_model::{DeviceOptions, IoResult, ModelDevice};
    use zerocopy::little_endian::U32;

    const PID: u32 = 4242;

    /// How one `tail --follow` read ends when Ctrl+C lands at `ctrl_c_at` (0: before the loop's
    /// stop check, 1: between that check and the DeviceIoControl, 2: between the DeviceIoControl
    /// returning ERROR_IO_PENDING and the re-check, 3: after the re-check, 4: while waiting), on a
    /// device where no write ever arrives. `recheck`: whether the re-check after issuing is made.
    /// The Ctrl+C handler sets the flag and then cancels whatever is pending on the handle.
    fn follow_read_ends(ctrl_c_at: usize, recheck: bool) -> bool {
        let mut stop = false;
        let mut pending: Option<bool> = None; // Some(cancelled)
        let ctrl_c = |stop: &mut bool, pending: &mut Option<bool>| {
            *stop = true;
            if let Some(cancelled) = pending.as_mut() {
                *cancelled = true; // CancelIoEx(handle, NULL)
            }
        };
        for step in 0..4 {
            if step == ctrl_c_at {
                ctrl_c(&mut stop, &mut pending);
            }
            match step {
                0 if stop => return true,   // the loop's check: a clean end
                1 => pending = Some(false), // DeviceIoControl: ERROR_IO_PENDING
                2 if recheck && after_issue(pending.is_some(), stop) == AfterIssue::CancelThenWait => {
                    pending = Some(true); // CancelIoEx(handle, &overlapped)
                }
                _ => {}
            }
        }
        // GetOverlappedResult(wait): returns once the read is cancelled. Ctrl+C now cancels it if it
        // has not come yet; if it came already and cancelled nothing, the wait never ends.
        if ctrl_c_at == 4 {
            ctrl_c(&mut stop, &mut pending);
        }
        pending == Some(true) && stop
    }

    #[test]
    fn ctrl_c_anywhere_ends_a_follow_read() {
        assert_eq!(after_issue(false, true), AfterIssue::Completed);
        assert_eq!(after_issue(true, false), AfterIssue::Wait);
        assert_eq!(after_issue(true, true), AfterIssue::CancelThenWait);
        for at in 0..=4 {
            assert!(follow_read_ends(at, true), "Ctrl+C at point {at} was lost");
        }
        // Without the re-check, a Ctrl+C between the stop check and the DeviceIoControl is lost
        // (the race this guards against); everywhere else it was already handled.
        assert!(!follow_read_ends(1, false));
        assert!([0, 2, 3, 4].iter().all(|&at| follow_read_ends(at, false)));
    }

    /// Drives `session` against the model driver the way the Windows layer drives the real one:
    /// `DeviceIoControl(READ_LOG)` with the session's request and buffer size, until it finishes.
    /// A read that pends ends the loop (the model has nothing more to give).
    pub(crate) fn run(device: &ModelDevice, handle: u64, session: &mut ReadLogSession, limit: usize) -> Vec<TailEvent> {
        let mut events = Vec::new();
        for _ in 0..limit {
            if session.finished() {
                break;
            }
            let request = session.request();
            let done = match device.read_log(handle, Some(request), session.buffer_size()) {
                IoResult::Completed(done) => done,
                IoResult::Pending(_) => break,
            };
            let status = if done.status == NtStatus::BUFFER_TOO_SMALL {
                ReplyStatus::BufferTooSmall
            } else {
                assert!(done.status.is_success(), "{:?}", done.status);
                ReplyStatus::Success { returned: done.information }
            };
            events.extend(session.on_reply(&done.output, status).unwrap());
        }
        events
    }

    fn records(events: &[TailEvent]) -> Vec<&TailRecord> {
        events
            .iter()
            .filter_map(|e| match e {
                TailEvent::Record(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_plain_tail_reads_everything_retained_then_stops() {
        let device = ModelDevice::with_defaults();
        let writer = device.open(3);
        for i in 0..50u32 {
            assert!(device.write(writer, format!("line {i}").as_bytes(), PID).status.is_success());
        }
        let reader = device.open(1);
        let mut session = ReadLogSession::new(false, false);
        assert_eq!(session.request().mode.get(), ioctl::READ_MODE_OLDEST);
        assert_eq!(session.request().flags.get(), ioctl::READ_FLAG_DONT_WAIT);
        let events = run(&device, reader, &mut session, 100);
        assert!(session.finished());
        let got = records(&events);
        assert_eq!(got.len(), 50);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.payload, format!("line {i}").as_bytes());
            assert_eq!(r.process_id, PID);
        }
        assert_eq!(session.request().mode.get(), ioctl::READ_MODE_CONTINUE);
        assert_eq!(session.next_sequence(), Some(got[49].sequence + 1));
    }

    #[test]
    fn follow_starts_at_the_end_and_waits() {
        let device = ModelDevice::with_defaults();
        let writer = device.open(3);
        assert!(device.write(writer, b"old", PID).status.is_success());
        let reader = device.open(1);
        let mut session = ReadLogSession::new(true, false);
        let first = session.request();
        assert_eq!((first.mode.get(), first.flags.get()), (ioctl::READ_MODE_END, 0));
        // Nothing new: the read pends, and the parked request is served by the next write.
        let IoResult::Pending(id) = device.read_log(reader, Some(first), session.buffer_size()) else {
            panic!("a follow read with nothing new must pend")
        };
        assert!(device.write(writer, b"new", PID).status.is_success());
        let done = device.completion(id).unwrap();
        let events = session.on_reply(&done.output, ReplyStatus::Success { returned: done.information }).unwrap();
        let got = records(&events);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload, b"new");
        assert!(!session.finished());
        assert_eq!(session.request().mode.get(), ioctl::READ_MODE_CONTINUE);

        let mut from_start = ReadLogSession::new(true, true);
        assert_eq!(from_start.request().mode.get(), ioctl::READ_MODE_OLDEST);
        let events = run(&device, device.open(1), &mut from_start, 10);
        let payloads: Vec<&[u8]> = records(&events).iter().map(|r| r.payload.as_slice()).collect();
        assert_eq!(payloads, [b"old".as_slice(), b"new"]);
    }

    #[test]
    fn a_record_larger_than_the_buffer_grows_it() {
        const MAX_WRITE: usize = logbridge_core::device::MAX_WRITE_SIZE_LIMIT as usize;
        let device = ModelDevice::create(
            logbridge_model::ModelKernel::new(Default::default()),
            DeviceOptions {
                ring_size: 1 << 20,
                config: logbridge_core::device::Config { max_write_size: MAX_WRITE, ..Default::default() },
                ..DeviceOptions::default()
            },
        )
        .unwrap();
        let writer = device.open(3);
        // The largest write the driver takes: its record (with the header) does not fit a buffer of
        // the initial size next to the response header.
        let big = vec![0xA5u8; MAX_WRITE];
        assert!(READ_LOG_RESPONSE_SIZE + record::RECORD_HEADER_SIZE + big.len() > INITIAL_BUFFER_SIZE);
        assert!(device.write(writer, b"small", PID).status.is_success());
        assert!(device.write(writer, &big, PID).status.is_success());
        let mut session = ReadLogSession::new(false, true);
        let events = run(&device, device.open(1), &mut session, 10);
        let got = records(&events);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].payload, big);
        assert!(session.buffer_size() >= READ_LOG_RESPONSE_SIZE + record::RECORD_HEADER_SIZE + big.len());
        assert!(session.buffer_size() <= MAX_BUFFER_SIZE);
    }

    #[test]
    fn a_reader_that_fell_behind_is_told_how_much_it_lost() {
        let ring_size = 4096;
        let device = ModelDevice::create(
            logbridge_model::ModelKernel::new(Default::default()),
            DeviceOptions { ring_size, ..DeviceOptions::default() },
        )
        .unwrap();
        let writer = device.open(3);
        let reader = device.open(1);
        let mut session = ReadLogSession::new(false, true);
        // The reader's first read sets its cursor at the oldest record (record 0).
        assert!(device.write(writer, &[1u8; 100], PID).status.is_success());
        let first = run(&device, reader, &mut session, 1);
        assert_eq!(records(&first).len(), 1);
        // Then far more than the ring holds arrives.
        for i in 0..200u8 {
            assert!(device.write(writer, &[i; 100], PID).status.is_success());
        }
        let mut session = ReadLogSession { finished: false, ..session };
        let events = run(&device, reader, &mut session, 100);
        let Some(TailEvent::Lost { records: lost, bytes }) = events.first().cloned() else {
            panic!("expected a loss report first: {events:?}")
        };
        let kept = records(&events).len() as u64;
        assert!(lost > 0 && bytes > 0);
        assert_eq!(lost + kept, 200, "every write is either read or reported lost");
        assert!(events[0].to_line().contains(&format!("{lost} record(s)")));
        let mut totals = TailTotals::default();
        totals.add(&events);
        assert_eq!((totals.records, totals.lost_records), (kept, lost));
    }

    #[test]
    fn replies_that_break_the_contract_are_errors() {
        let mut session = ReadLogSession::new(false, false);
        assert!(session.on_reply(&[0u8; 10], ReplyStatus::Success { returned: 10 }).unwrap_err().contains("shorter"));
        let mut header = ReadLogResponse { size: U32::new(64), version: U32::new(2), ..ReadLogResponse::default() };
        let err = session.on_reply(header.as_bytes(), ReplyStatus::Success { returned: 64 }).unwrap_err();
        assert!(err.contains("version 2"), "{err}");
        header.version = U32::new(ioctl::CONTRACT_VERSION);
        header.bytes = U32::new(100);
        let err = session.on_reply(header.as_bytes(), ReplyStatus::Success { returned: 64 }).unwrap_err();
        assert!(err.contains("100 record bytes"), "{err}");
        header.bytes = U32::new(0);
        header.records = U32::new(3);
        assert!(
            session
                .on_reply(header.as_bytes(), ReplyStatus::Success { returned: 64 })
                .unwrap_err()
                .contains("3 records")
        );
        // Too small, but asking for no more than it has, or for an absurd size.
        header.records = U32::new(0);
        header.required_size = U32::new(100);
        assert!(session.on_reply(header.as_bytes(), ReplyStatus::BufferTooSmall).is_err());
        header.required_size = U32::new(u32::MAX);
        assert!(session.on_reply(header.as_bytes(), ReplyStatus::BufferTooSmall).is_err());
        assert_eq!(session.buffer_size(), INITIAL_BUFFER_SIZE);
        // Garbage after a valid header is reported, not dropped.
        let mut buffer = header.as_bytes().to_vec();
        buffer.extend_from_slice(&[0xEE; 40]);
        let mut h = header;
        h.bytes = U32::new(40);
        h.required_size = U32::new(0);
        buffer[..64].copy_from_slice(h.as_bytes());
        let events = session.on_reply(&buffer, ReplyStatus::Success { returned: 104 }).unwrap();
        assert_eq!(events, vec![TailEvent::Corrupt { bytes: 40 }]);
    }

    #[test]
    fn writes_are_matched_to_their_records_in_order() {
        let rec = |sequence, pid, payload: &[u8]| TailRecord {
            sequence,
            timestamp: FileTime(0),
            process_id: pid,
            payload: payload.to_vec(),
        };
        let records = [
            rec(10, PID, b"a"),
            rec(11, 7, b"b"), // another process wrote the same bytes
            rec(12, PID, b"b"),
            rec(13, PID, b"a"), // the second "a"
        ];
        let written = [b"a".to_vec(), b"b".to_vec(), b"a".to_vec(), b"c".to_vec()];
        assert_eq!(match_writes(&written, PID, &records), [Some(10), Some(12), Some(13), None]);
        // A write whose record was overwritten does not shift the others.
        let written = [b"x".to_vec(), b"b".to_vec()];
        assert_eq!(match_writes(&written, PID, &records), [None, Some(12)]);
    }

    #[test]
    fn lines_and_json() {
        let r = TailRecord {
            sequence: 7,
            timestamp: FileTime::from_unix(1_700_000_000, 123_000).unwrap(),
            process_id: 99,
            payload: b"hello\tworld".to_vec(),
        };
        let line = r.to_line();
        assert!(line.starts_with("#7 "), "{line}");
        assert!(line.contains("2023-11-14T22:13:20.000123Z"), "{line}");
        assert!(line.contains("pid 99") && line.contains("11 B") && line.ends_with("hello\tworld"), "{line}");
        let json = TailEvent::Record(r).to_json();
        assert_eq!(json["sequence"], 7);
        assert_eq!(json["pid"], 99);
        assert_eq!(json["payload"], crate::hex::encode(b"hello\tworld"));
        assert_eq!(payload_text(&[0xFF, 0x00]), "hex:ff00");
        assert_eq!(payload_text(b"a\nb c d e f g h i"), "a\\nb c d e f g h i");
        assert_eq!(TailEvent::Lost { records: 2, bytes: 64 }.to_json()["lost_records"], 2);
        // Times RFC 3339 cannot show (before 1970, after 9999) are printed raw, never a panic.
        assert_eq!(format_filetime(FileTime(0)), "filetime:0");
        assert_eq!(format_filetime(FileTime(u64::MAX)), format!("filetime:{}", u64::MAX));
    }
}
