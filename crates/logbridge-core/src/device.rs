//! The LogBridge device: the write path and the IOCTL handlers, generic over [`Kernel`].
//!
//! # The write path ([`LogBridge::write`]), in order
//! 1. **Validate.** A write whose record would not fit the whole ring (the ring's
//!    `NDIS_STATUS_BUFFER_OVERFLOW` rule of `NdisMWriteLogData`, [`RingError::RecordTooLarge`]) or
//!    that is above `MaxWriteSize` completes with `STATUS_INVALID_BUFFER_SIZE`, an `NT_ERROR`
//!    status (`WriteFile` fails with `ERROR_INVALID_USER_BUFFER`) and Information 0. The ring's
//!    return code is a routine's result, not an IRP status: `STATUS_BUFFER_OVERFLOW` is an
//!    `NT_WARNING`, which `WriteFile` would report as `ERROR_MORE_DATA`. `GET_STATS` gives both
//!    limits (`ring_capacity`, `max_write_size`), so a caller can say which one it hit. Either way
//!    nothing is logged anywhere and nothing already logged changes.
//! 2. **Ring.** The payload and the header are checksummed with the engine the driver chose at
//!    device add ([`Kernel::crc32c`]: the processor's CRC32C instructions where it has them); then,
//!    under the log lock, the record is appended (taking the next sequence number), the rate
//!    limiter is asked for a token and the write is counted (plain integers in [`LogState`]: the
//!    lock is held anyway, so the write path does no atomic read-modify-write of its own). Nothing
//!    else happens under the lock. Then the parked readers are completed
//!    ([`Kernel::complete_pending_reads`]).
//! 3. **Event log**, if the write got a token and IRQL <= DISPATCH_LEVEL: first, if entries were
//!    not written since the last summary, one Warning summary entry says how many and why; then
//!    the Informational entry for this write. `IoAllocateErrorLogEntry` returning NULL is counted
//!    (and reported by the next summary), never fatal. If the summary cannot be written, the
//!    write's own entry is not attempted either (the summary must come first); it is counted for
//!    the next summary, so every write is accounted for in the Event Log: by its own entry or by
//!    a summary's count.
//! 4. **WMI**, if a consumer enabled the event and IRQL <= APC_LEVEL: the event item is built in
//!    nonpaged memory and handed to `IoWMIWriteEvent`; if that fails the item is freed here.
//! 5. The request completes with `STATUS_SUCCESS` and the byte count. (The statistics of the rare
//!    paths are atomics; `eventlog_written` is the writes that got a token less those whose entry
//!    was not written, so a write in flight counts as written.)
//!
//! # Spin-lock hold bound
//! "No routine should hold a spin lock for longer than 25 microseconds" (Microsoft, *Guidelines
//! for Using Spin Locks*). The bytes copied while the log lock is held are bounded by
//! [`SPIN_LOCK_COPY_LIMIT`] (64 KiB and one record header: a few microseconds of `memcpy`): an
//! append copies one record, and `MaxWriteSize` is at most [`MAX_WRITE_SIZE_LIMIT`]; a `READ_LOG`
//! copies whole records up to that many bytes per request (the caller asks again for more). The
//! checksum is computed before the lock. `GET_STATS`' `largest_locked_copy` reports the largest
//! copy made under the lock; the tests of the driver's own code on the KMDF model assert the bound
//! through it (the model cannot watch a `memcpy`).
//!
//! # Completion statuses
//! Every failure completes with Information 0: the I/O manager copies neither the system buffer
//! nor Information back to the caller on an `NT_ERROR` status, and KMDF's verifier flags a
//! buffered request completed with more Information than its buffer. A `READ_LOG` whose buffer
//! holds the 64-byte response header but not the first record writes the header, with
//! `required_size`, into the caller's pages (`METHOD_OUT_DIRECT`: the driver writes the caller's
//! locked pages directly, so the header is visible even though the status is an error).
//!
//! Event log and WMI are best effort: their failures are counted, and the write still succeeds,
//! because the record is in the ring.
//!
//! # Zero-length writes
//! The driver asks KMDF to deliver them (`AllowZeroLengthRequests`). A zero-length write is a
//! record with an empty payload: it takes a sequence number, is in the ring, gets an event-log
//! entry whose preview reads `(empty)` and a WMI event with `TotalLength` 0, and completes with
//! `STATUS_SUCCESS` and 0 bytes. That makes an empty write a cheap, visible marker.

use crate::errorlog::{self, InsertionString, PacketImage, PacketSpec, WriteFacts};
use crate::ioctl::{self, ReadLogRequest, ReadLogResponse, Stats};
use crate::kernel::{
    APC_LEVEL, Completion, DISPATCH_LEVEL, Kernel, PendingReadServer, ReadCompletion, WmiWriteFailure,
};
use crate::messages;
use crate::ratelimit::{RateLimit, TokenBucket};
use crate::record::{self, PreparedRecord};
use crate::ring::{ReadCursor, RingError, RingLog};
use crate::status::NtStatus;
use crate::wmi;
use core::sync::atomic::{AtomicU64, Ordering};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, IntoBytes};

/// Default `MaxWriteSize`: 64 KiB.
pub const DEFAULT_MAX_WRITE_SIZE: u32 = 64 * 1024;

/// The largest `MaxWriteSize` accepted (64 KiB): it bounds the copy made under the log's spin lock.
pub const MAX_WRITE_SIZE_LIMIT: u32 = 64 * 1024;

/// The most bytes copied into or out of the ring while its spin lock is held: one record of
/// [`MAX_WRITE_SIZE_LIMIT`] bytes with its header and padding (65,568 bytes).
pub const SPIN_LOCK_COPY_LIMIT: usize = match record::record_size(MAX_WRITE_SIZE_LIMIT as usize) {
    Some(size) => size,
    None => 0,
};
const _: () = assert!(SPIN_LOCK_COPY_LIMIT == 65_568);

/// The registry parameters (`HKLM\SYSTEM\CurrentControlSet\Services\LogBridge\Parameters`, which the driver
/// opens with `WdfDriverOpenParametersRegistryKey` and the INF fills with the defaults), with their
/// valid ranges and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// `RingLogSize`: bytes of nonpaged memory for the ring. 64 KiB ..= 64 MiB, default 1 MiB.
    /// The ring uses the largest power of two in it (the driver allocates just that).
    RingLogSize,
    /// `EventLogBurst`: token-bucket size. 0 ..= 10000, default 100 (0: no per-write entries).
    EventLogBurst,
    /// `EventLogRatePerSecond`: refill rate. 0 ..= 1000, default 20.
    EventLogRatePerSecond,
    /// `MaxWriteSize`: largest accepted write. 1 ..= 64 KiB ([`MAX_WRITE_SIZE_LIMIT`]: the spin-lock
    /// hold bound), default 64 KiB.
    MaxWriteSize,
}

impl Parameter {
    /// All parameters.
    pub const ALL: [Parameter; 4] =
        [Parameter::RingLogSize, Parameter::EventLogBurst, Parameter::EventLogRatePerSecond, Parameter::MaxWriteSize];

    /// The registry value name.
    pub const fn name(self) -> &'static str {
        match self {
            Parameter::RingLogSize => "RingLogSize",
            Parameter::EventLogBurst => "EventLogBurst",
            Parameter::EventLogRatePerSecond => "EventLogRatePerSecond",
            Parameter::MaxWriteSize => "MaxWriteSize",
        }
    }

    /// Valid range, inclusive.
    pub const fn range(self) -> (u32, u32) {
        match self {
            Parameter::RingLogSize => (64 * 1024, 64 << 20),
            Parameter::EventLogBurst => (0, 10_000),
            Parameter::EventLogRatePerSecond => (0, 1000),
            Parameter::MaxWriteSize => (1, MAX_WRITE_SIZE_LIMIT),
        }
    }

    /// The default.
    pub const fn default_value(self) -> u32 {
        match self {
            Parameter::RingLogSize => 1 << 20,
            Parameter::EventLogBurst => crate::ratelimit::DEFAULT_BURST,
            Parameter::EventLogRatePerSecond => crate::ratelimit::DEFAULT_PER_SECOND,
            Parameter::MaxWriteSize => DEFAULT_MAX_WRITE_SIZE,
        }
    }

    /// The value to use: the registry's if it is a `REG_DWORD` in range, else the default and
    /// `Err` with what was wrong (the driver logs it once with
    /// [`messages::LOGBRIDGE_PARAMETER_DEFAULTED`]). A missing value silently means the default.
    pub fn resolve(self, found: RegistryValue) -> Result<u32, ParameterDefaulted> {
        let (low, high) = self.range();
        match found {
            RegistryValue::Missing => Ok(self.default_value()),
            RegistryValue::Dword(value) if value >= low && value <= high => Ok(value),
            RegistryValue::Dword(_) | RegistryValue::NotADword => {
                Err(ParameterDefaulted { parameter: self, found, used: self.default_value() })
            }
        }
    }
}

/// What the registry holds for a parameter (`WdfRegistryQueryULong`'s outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryValue {
    /// No such value (`STATUS_OBJECT_NAME_NOT_FOUND`), or no `Parameters` key at all.
    Missing,
    /// A `REG_DWORD`.
    Dword(u32),
    /// A value of another type or size, which the query refused.
    NotADword,
}

/// A registry value out of range or of the wrong type, replaced by its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParameterDefaulted {
    /// Which parameter.
    pub parameter: Parameter,
    /// What was found.
    pub found: RegistryValue,
    /// The default used instead.
    pub used: u32,
}

/// The device's settings, resolved from its registry parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The write path's settings.
    pub config: Config,
    /// `RingLogSize`: the most nonpaged memory to use for the ring.
    pub ring_log_size: usize,
    /// The parameters that were invalid and defaulted, in [`Parameter::ALL`] order: each is
    /// logged once with [`log_parameter_defaulted`].
    pub defaulted: [Option<ParameterDefaulted>; 4],
}

impl Settings {
    /// Resolves every parameter through `query` (one registry read each).
    pub fn resolve(mut query: impl FnMut(Parameter) -> RegistryValue) -> Settings {
        let mut defaulted = [None; 4];
        let mut values = [0u32; 4];
        for ((parameter, value), slot) in Parameter::ALL.into_iter().zip(values.iter_mut()).zip(defaulted.iter_mut()) {
            *value = parameter.resolve(query(parameter)).unwrap_or_else(|bad| {
                *slot = Some(bad);
                bad.used
            });
        }
        let [ring_log_size, burst, per_second, max_write_size] = values;
        Settings {
            config: Config {
                max_write_size: usize::try_from(max_write_size).unwrap_or(usize::MAX),
                rate_limit: RateLimit { burst, per_second },
                error_log_maximum_size: errorlog::ERROR_LOG_MAXIMUM_SIZE,
            },
            ring_log_size: usize::try_from(ring_log_size).unwrap_or(usize::MAX),
            defaulted,
        }
    }

    /// The ring sizes to try allocating, largest first: the largest power of two within
    /// `RingLogSize` (the ring uses no more), then halves of it down to the parameter's minimum
    /// (64 KiB). Like `NdisMCreateLog`, whose caller "may retry with a smaller size" when memory
    /// is short, the driver takes the first that the pool grants.
    pub fn ring_allocation_sizes(&self) -> impl Iterator<Item = usize> {
        let (minimum, _) = Parameter::RingLogSize.range();
        let minimum = usize::try_from(minimum).unwrap_or(usize::MAX);
        let largest = self.ring_log_size.checked_ilog2().and_then(|bits| 1usize.checked_shl(bits)).unwrap_or(0);
        core::iter::successors(Some(largest), |size| Some(size / 2)).take_while(move |size| *size >= minimum)
    }
}

/// Logs that a registry parameter was invalid and its default is used
/// ([`messages::LOGBRIDGE_PARAMETER_DEFAULTED`]; %2 name, %3 value found, %4 default). False if
/// the entry could not be written (best effort, like every entry).
pub fn log_parameter_defaulted<K: Kernel>(
    kernel: &K,
    defaulted: &ParameterDefaulted,
    maximum_entry_size: usize,
) -> bool {
    let found = match defaulted.found {
        RegistryValue::Dword(value) => InsertionString::Decimal(u64::from(value)),
        RegistryValue::NotADword => InsertionString::Text("(not a REG_DWORD)"),
        RegistryValue::Missing => InsertionString::Text("(missing)"),
    };
    let strings =
        [InsertionString::Text(defaulted.parameter.name()), found, InsertionString::Decimal(u64::from(defaulted.used))];
    let found_raw = match defaulted.found {
        RegistryValue::Dword(value) => value,
        RegistryValue::NotADword | RegistryValue::Missing => u32::MAX,
    };
    let mut dump = [0u8; 8];
    let (found_bytes, used_bytes) = dump.split_at_mut(4);
    found_bytes.copy_from_slice(&found_raw.to_le_bytes());
    used_bytes.copy_from_slice(&defaulted.used.to_le_bytes());
    let spec = PacketSpec {
        message: messages::LOGBRIDGE_PARAMETER_DEFAULTED,
        major_function: 0,
        unique_error_value: 0,
        final_status: NtStatus::SUCCESS,
        sequence_number: 0,
        dump: &dump,
        max_dump_bytes: dump.len(),
        strings: &strings,
    };
    write_entry(kernel, &spec, maximum_entry_size)
}

/// Builds the packet (sized and encoded in one pass, on the stack), allocates exactly its size,
/// copies it in and writes the entry. False if it could not be written; an entry that was
/// allocated but not written is freed when it drops.
fn write_entry<K: Kernel>(kernel: &K, spec: &PacketSpec<'_>, maximum_entry_size: usize) -> bool {
    let mut image = PacketImage::new();
    let Ok(plan) = image.encode(spec, maximum_entry_size) else {
        return false;
    };
    let Some(mut entry) = kernel.allocate_error_log_entry(plan.entry_size) else {
        return false;
    };
    if image.write_to(entry.as_mut()).is_err() {
        // Dropping the unwritten entry frees it.
        return false;
    }
    kernel.write_error_log_entry(entry);
    true
}

/// The device's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest accepted write.
    pub max_write_size: usize,
    /// Event-log rate limit.
    pub rate_limit: RateLimit,
    /// `ERROR_LOG_MAXIMUM_SIZE` of the target (240 on 64-bit Windows, 152 on x86).
    pub error_log_maximum_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_write_size: usize::try_from(DEFAULT_MAX_WRITE_SIZE).unwrap_or(usize::MAX),
            rate_limit: RateLimit::default(),
            error_log_maximum_size: errorlog::ERROR_LOG_MAXIMUM_SIZE,
        }
    }
}

/// Everything the log lock protects.
#[derive(Debug)]
pub struct LogState<S> {
    /// The ring.
    pub ring: RingLog<S>,
    /// The event-log rate limiter.
    pub limiter: TokenBucket,
    /// The per-write counters: the write path holds the lock anyway, so counting here costs no
    /// atomic read-modify-write (each of which is a full barrier on x64).
    counters: LockedCounters,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> LogState<S> {
    /// State over ring storage `storage`.
    pub fn new(storage: S, rate_limit: RateLimit) -> Result<Self, RingError> {
        Ok(LogState {
            ring: RingLog::new(storage)?,
            limiter: TokenBucket::new(rate_limit),
            counters: LockedCounters::default(),
        })
    }
}

/// The counters kept under the log lock.
#[derive(Clone, Copy, Debug, Default)]
struct LockedCounters {
    writes: u64,
    bytes_written: u64,
    zero_length_writes: u64,
    largest_locked_copy: u64,
    /// Writes that got an Event Log token.
    eventlog_tokens: u64,
    eventlog_rate_limited: u64,
    /// Rate-limited entries that no summary has reported yet.
    unreported_rate_limited: u64,
}

impl LockedCounters {
    fn raise_largest_locked_copy(&mut self, bytes: usize) {
        self.largest_locked_copy = self.largest_locked_copy.max(u64::try_from(bytes).unwrap_or(u64::MAX));
    }
}

/// The lock around [`LogState`]: a WDFSPINLOCK in the driver, a mutex on the host.
///
/// `with_lock` runs `f` with the lock held. The core only copies and counts inside `f`; it never
/// calls a [`Kernel`] routine or allocates there.
pub trait LogLock {
    /// The ring's storage.
    type Storage: AsRef<[u8]> + AsMut<[u8]>;
    /// Runs `f` under the lock.
    fn with_lock<R>(&self, f: impl FnOnce(&mut LogState<Self::Storage>) -> R) -> R;
}

/// One handle's ring-log cursor. It lives in the file object's context and is read and written
/// only under the log lock, so relaxed atomics are enough (they make it `Sync` without `unsafe`).
#[derive(Debug, Default)]
pub struct CursorCell {
    position: AtomicU64,
    sequence: AtomicU64,
}

impl CursorCell {
    /// A cell holding `cursor`.
    pub fn new(cursor: ReadCursor) -> Self {
        CursorCell { position: AtomicU64::new(cursor.position), sequence: AtomicU64::new(cursor.sequence) }
    }

    /// The cursor (call under the log lock).
    pub fn load(&self) -> ReadCursor {
        ReadCursor { position: self.position.load(Ordering::Relaxed), sequence: self.sequence.load(Ordering::Relaxed) }
    }

    /// Stores a cursor (call under the log lock).
    pub fn store(&self, cursor: ReadCursor) {
        self.position.store(cursor.position, Ordering::Relaxed);
        self.sequence.store(cursor.sequence, Ordering::Relaxed);
    }
}

/// A user write.
#[derive(Clone, Copy, Debug)]
pub struct WriteRequest<'a> {
    /// The bytes (empty for a zero-length write).
    pub payload: &'a [u8],
    /// `WdfRequestGetRequestorProcessId`.
    pub process_id: u32,
}

macro_rules! counters {
    ($($field:ident,)*) => {
        #[derive(Debug, Default)]
        struct Counters { $($field: AtomicU64,)* }
    };
}

counters! {
    writes_rejected,
    // Writes with a token whose entry was not written (IRQL, a failed summary, allocation).
    eventlog_token_unwritten,
    eventlog_summaries,
    eventlog_summarized,
    eventlog_alloc_failed,
    eventlog_irql_skipped,
    wmi_fired,
    wmi_disabled,
    wmi_irql_skipped,
    wmi_alloc_failed,
    wmi_failed,
    wmi_last_failure_status,
    reads_completed,
    reads_pended,
    clears,
    unreported_alloc_failed,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The device: settings, the locked log, and counters.
#[derive(Debug)]
pub struct LogBridge<L> {
    config: Config,
    log: L,
    capacity: usize,
    counters: Counters,
}

impl<L: LogLock> LogBridge<L> {
    /// A device over an initialised log.
    pub fn new(config: Config, log: L) -> Self {
        let capacity = log.with_lock(|state| state.ring.capacity());
        LogBridge { config, log, capacity, counters: Counters::default() }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The lock, for the kernel layer (and tests) to inspect the ring.
    pub fn log(&self) -> &L {
        &self.log
    }

    /// The cursor a newly opened handle starts with: at the end, so it sees new records.
    pub fn open_cursor(&self) -> CursorCell {
        CursorCell::new(self.log.with_lock(|state| state.ring.cursor_at_end()))
    }

    /// Handles one write. See the module documentation for the steps.
    pub fn write<K: Kernel>(&self, kernel: &K, request: WriteRequest<'_>) -> Completion {
        let payload = request.payload;
        // 1. Validate.
        if let Some(refused) = self.refuse_by_length(payload.len()) {
            return refused;
        }
        // 2. Ring: checksum outside the lock, append and take a token inside it.
        let timestamp = kernel.system_time();
        let now = kernel.interrupt_time();
        let Some(prepared) = PreparedRecord::with_crc32c(payload, timestamp, request.process_id, kernel.crc32c())
        else {
            return self.reject(NtStatus::INVALID_BUFFER_SIZE);
        };
        let length = u64::try_from(payload.len()).unwrap_or(u64::MAX);
        let appended = self.log.with_lock(|state| {
            let appended = state.ring.append(&prepared)?;
            let token = state.limiter.try_take(now);
            let counters = &mut state.counters;
            counters.writes = counters.writes.saturating_add(1);
            counters.bytes_written = counters.bytes_written.saturating_add(length);
            if length == 0 {
                counters.zero_length_writes = counters.zero_length_writes.saturating_add(1);
            }
            counters.raise_largest_locked_copy(prepared.size());
            // With a token, this write's entry reports the rate-limited entries before it.
            let unreported = if token {
                counters.eventlog_tokens = counters.eventlog_tokens.saturating_add(1);
                core::mem::take(&mut counters.unreported_rate_limited)
            } else {
                counters.eventlog_rate_limited = counters.eventlog_rate_limited.saturating_add(1);
                counters.unreported_rate_limited = counters.unreported_rate_limited.saturating_add(1);
                0
            };
            Ok::<_, RingError>((appended, token.then_some(unreported)))
        });
        let Ok((appended, token)) = appended else {
            return self.reject(NtStatus::INVALID_BUFFER_SIZE);
        };
        kernel.complete_pending_reads(self);
        // 3. Event log.
        let facts = WriteFacts {
            sequence: appended.sequence,
            process_id: request.process_id,
            payload,
            final_status: NtStatus::SUCCESS,
        };
        self.log_write_entry(kernel, &facts, token);
        // 4. WMI.
        self.fire_wmi_event(kernel, &facts, timestamp);
        // 5. Completion (the write was counted under the lock).
        Completion::success(payload.len())
    }

    /// Step 1 of [`LogBridge::write`] on its own: the completion of a write of `length` bytes that
    /// is refused for its size (larger than the ring, or than `MaxWriteSize`), counted as rejected;
    /// `None` if the size is acceptable. The driver asks this before it retrieves the write's
    /// buffer, so an oversize write is refused the same way whatever the buffer's retrieval does.
    pub fn refuse_by_length(&self, length: usize) -> Option<Completion> {
        let fits_ring = record::record_size(length).is_some_and(|size| size <= self.capacity);
        if !fits_ring || length > self.config.max_write_size {
            return Some(self.reject(NtStatus::INVALID_BUFFER_SIZE));
        }
        None
    }

    /// A write refused before anything was logged.
    fn reject(&self, status: NtStatus) -> Completion {
        bump(&self.counters.writes_rejected);
        Completion::failure(status)
    }

    /// Step 3. `token` is `Some(rate-limited entries not yet reported)` if the write got a
    /// token (the count was taken out of the locked counters with it), `None` if it was
    /// rate-limited (and counted as such under the lock).
    fn log_write_entry<K: Kernel>(&self, kernel: &K, facts: &WriteFacts<'_>, token: Option<u64>) {
        let Some(rate_limited) = token else {
            return;
        };
        if kernel.irql() > DISPATCH_LEVEL {
            bump(&self.counters.eventlog_irql_skipped);
            bump(&self.counters.eventlog_token_unwritten);
            self.give_back_rate_limited(rate_limited);
            return;
        }
        if !self.log_summary_entry(kernel, facts.sequence, rate_limited) {
            // The summary goes first; without it, this entry waits for the next one to report it.
            bump(&self.counters.unreported_alloc_failed);
            bump(&self.counters.eventlog_token_unwritten);
            return;
        }
        let strings = errorlog::write_packet_strings(facts);
        let spec = errorlog::write_packet_spec(facts, &strings, self.config.error_log_maximum_size);
        if !self.log_entry(kernel, &spec) {
            bump(&self.counters.eventlog_alloc_failed);
            bump(&self.counters.unreported_alloc_failed);
            bump(&self.counters.eventlog_token_unwritten);
        }
    }

    /// Puts rate-limited entries that a summary could not report back for the next one (a rare
    /// path: the lock is taken again).
    fn give_back_rate_limited(&self, rate_limited: u64) {
        if rate_limited > 0 {
            self.log.with_lock(|state| {
                let counters = &mut state.counters;
                counters.unreported_rate_limited = counters.unreported_rate_limited.saturating_add(rate_limited);
            });
        }
    }

    /// Logs the Warning summary of entries not written since the last one, if there are any:
    /// `rate_limited` (taken from the locked counters with this write's token) and the
    /// allocation failures. False if there was something to report and it could not be written.
    fn log_summary_entry<K: Kernel>(&self, kernel: &K, sequence: u64, rate_limited: u64) -> bool {
        // A plain load first: the read-modify-write only when there is something to take.
        let alloc_failed = match self.counters.unreported_alloc_failed.load(Ordering::Relaxed) {
            0 => 0,
            _ => self.counters.unreported_alloc_failed.swap(0, Ordering::Relaxed),
        };
        let counts = errorlog::SuppressedCounts { rate_limited, alloc_failed };
        let total = counts.total();
        if total == 0 {
            return true;
        }
        let strings = errorlog::summary_packet_strings(&counts, self.config.rate_limit);
        let dump = counts.dump();
        let spec = errorlog::summary_packet_spec(sequence, &dump, &strings);
        if self.log_entry(kernel, &spec) {
            bump(&self.counters.eventlog_summaries);
            add(&self.counters.eventlog_summarized, total);
            true
        } else {
            // Not lost: the next summary reports them.
            bump(&self.counters.eventlog_alloc_failed);
            self.give_back_rate_limited(rate_limited);
            add(&self.counters.unreported_alloc_failed, alloc_failed);
            false
        }
    }

    /// Plans, allocates, fills and writes one entry. False if it could not be written.
    fn log_entry<K: Kernel>(&self, kernel: &K, spec: &PacketSpec<'_>) -> bool {
        write_entry(kernel, spec, self.config.error_log_maximum_size)
    }

    fn fire_wmi_event<K: Kernel>(&self, kernel: &K, facts: &WriteFacts<'_>, timestamp: crate::time::FileTime) {
        if !kernel.wmi_events_enabled() {
            bump(&self.counters.wmi_disabled);
            return;
        }
        if kernel.irql() > APC_LEVEL {
            bump(&self.counters.wmi_irql_skipped);
            return;
        }
        let size = wmi::event_item_size(facts.payload.len());
        let Some(mut item) = kernel.allocate_nonpaged(size) else {
            bump(&self.counters.wmi_alloc_failed);
            return;
        };
        let provider_id = kernel.wmi_provider_id();
        if wmi::encode_write_event(
            item.as_mut(),
            provider_id,
            timestamp,
            facts.sequence,
            facts.process_id,
            facts.payload,
        )
        .is_err()
        {
            // Not handed to WMI: dropping it frees it.
            bump(&self.counters.wmi_alloc_failed);
            return;
        }
        match kernel.wmi_write_event(item) {
            Ok(()) => bump(&self.counters.wmi_fired),
            Err(WmiWriteFailure { status, item }) => {
                bump(&self.counters.wmi_failed);
                self.counters.wmi_last_failure_status.store(u64::from(status.as_u32()), Ordering::Relaxed);
                // IoWMIWriteEvent failed, so the item is still ours: free it, exactly here.
                drop(item);
            }
        }
    }

    /// `IOCTL_LOGBRIDGE_READ_LOG` for the handle whose cursor is `cursor`.
    pub fn read_log(&self, cursor: &CursorCell, input: &[u8], output: &mut [u8]) -> ReadCompletion {
        let request = match parse_read_request(input) {
            Ok(request) => request,
            Err(status) => return ReadCompletion::Complete(Completion::failure(status)),
        };
        let dont_wait = request.flags.get() & ioctl::READ_FLAG_DONT_WAIT != 0;
        let mode = request.mode.get();
        let explicit = ReadCursor { position: request.position.get(), sequence: request.sequence.get() };
        let completion = self.serve_read(cursor, output, dont_wait, |ring, current| match mode {
            ioctl::READ_MODE_OLDEST => Ok(ring.cursor_at_oldest()),
            // A position from user mode is checked against the record chain, not trusted.
            ioctl::READ_MODE_POSITION => ring.check_cursor(explicit).map(|()| explicit),
            ioctl::READ_MODE_END => Ok(ring.cursor_at_end()),
            _ => Ok(current),
        });
        if completion == ReadCompletion::Pending {
            bump(&self.counters.reads_pended);
        }
        completion
    }

    /// Reads from the cursor `start` picks into `output`, under the lock.
    fn serve_read(
        &self,
        cell: &CursorCell,
        output: &mut [u8],
        dont_wait: bool,
        start: impl FnOnce(&RingLog<L::Storage>, ReadCursor) -> Result<ReadCursor, RingError>,
    ) -> ReadCompletion {
        let Some((header, records)) = output.split_at_mut_checked(ioctl::READ_LOG_RESPONSE_SIZE) else {
            return ReadCompletion::Complete(Completion::failure(NtStatus::BUFFER_TOO_SMALL));
        };
        // The spin-lock bound: at most SPIN_LOCK_COPY_LIMIT bytes of records per request. Every
        // record fits (MaxWriteSize <= MAX_WRITE_SIZE_LIMIT), so a request always makes progress.
        let budget = records.len().min(SPIN_LOCK_COPY_LIMIT);
        let records = records.get_mut(..budget).unwrap_or_default();
        let result = self.log.with_lock(|state| {
            let mut cursor = start(&state.ring, cell.load())?;
            let outcome = state.ring.read(&mut cursor, records)?;
            state.counters.raise_largest_locked_copy(outcome.bytes);
            if outcome.records > 0 || outcome.lost_records > 0 || dont_wait {
                cell.store(cursor);
                Ok(Some((outcome, cursor)))
            } else {
                // Remember where this request starts (a mode may have moved it), then park it.
                cell.store(cursor);
                Ok(None)
            }
        });
        let mut response = ReadLogResponse {
            size: U32::new(u32::try_from(ioctl::READ_LOG_RESPONSE_SIZE).unwrap_or(0)),
            version: U32::new(ioctl::CONTRACT_VERSION),
            ..ReadLogResponse::default()
        };
        let completion = match result {
            Ok(None) => return ReadCompletion::Pending,
            Ok(Some((outcome, next))) => {
                response.bytes = U32::new(u32::try_from(outcome.bytes).unwrap_or(u32::MAX));
                response.records = U32::new(u32::try_from(outcome.records).unwrap_or(u32::MAX));
                response.first_sequence = U64::new(outcome.first_sequence);
                response.next_position = U64::new(next.position);
                response.next_sequence = U64::new(next.sequence);
                response.lost_records = U64::new(outcome.lost_records);
                response.lost_bytes = U64::new(outcome.lost_bytes);
                bump(&self.counters.reads_completed);
                Completion::success(ioctl::READ_LOG_RESPONSE_SIZE.saturating_add(outcome.bytes))
            }
            Err(RingError::BufferTooSmall { required }) => {
                let total = ioctl::READ_LOG_RESPONSE_SIZE.saturating_add(required);
                response.required_size = U32::new(u32::try_from(total).unwrap_or(u32::MAX));
                Completion::failure(NtStatus::BUFFER_TOO_SMALL)
            }
            Err(RingError::InvalidCursor) => {
                return ReadCompletion::Complete(Completion::failure(NtStatus::INVALID_PARAMETER));
            }
            Err(_) => return ReadCompletion::Complete(Completion::failure(NtStatus::INVALID_DEVICE_STATE)),
        };
        // The header always fits: `header` is exactly READ_LOG_RESPONSE_SIZE bytes.
        let _ = response.write_to(header);
        ReadCompletion::Complete(completion)
    }

    /// `IOCTL_LOGBRIDGE_GET_STATS`.
    pub fn get_stats(&self, output: &mut [u8]) -> Completion {
        let raw = self.stats().to_raw();
        match output.get_mut(..ioctl::STATS_SIZE) {
            Some(slot) => {
                slot.copy_from_slice(raw.as_bytes());
                Completion::success(ioctl::STATS_SIZE)
            }
            None => Completion::failure(NtStatus::BUFFER_TOO_SMALL),
        }
    }

    /// `IOCTL_LOGBRIDGE_CLEAR_LOG` (the I/O manager has checked write access).
    pub fn clear_log(&self) -> Completion {
        self.log.with_lock(|state| state.ring.clear());
        bump(&self.counters.clears);
        Completion::success(0)
    }

    /// Dispatches a device-control request from the handle whose cursor is `cursor`.
    /// Unknown codes get `STATUS_INVALID_DEVICE_REQUEST`.
    pub fn device_control(&self, code: u32, cursor: &CursorCell, input: &[u8], output: &mut [u8]) -> ReadCompletion {
        match code {
            ioctl::IOCTL_LOGBRIDGE_READ_LOG => self.read_log(cursor, input, output),
            ioctl::IOCTL_LOGBRIDGE_GET_STATS => ReadCompletion::Complete(self.get_stats(output)),
            ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG => ReadCompletion::Complete(self.clear_log()),
            _ => ReadCompletion::Complete(Completion::failure(NtStatus::INVALID_DEVICE_REQUEST)),
        }
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        let ring = self
            .log
            .with_lock(|state| (state.ring.counters(), state.ring.used(), state.ring.record_count(), state.counters));
        let (counters, used, records, locked) = ring;
        let c = &self.counters;
        Stats {
            ring_capacity: counters.capacity,
            ring_used: used,
            ring_records: records,
            ring_head: counters.head,
            ring_tail: counters.tail,
            next_sequence: counters.next_sequence,
            oldest_sequence: counters.oldest_sequence,
            records_overwritten: counters.overwritten_records,
            bytes_overwritten: counters.overwritten_bytes,
            ring_repairs: counters.repairs,
            writes: locked.writes,
            bytes_written: locked.bytes_written,
            zero_length_writes: locked.zero_length_writes,
            writes_rejected: get(&c.writes_rejected),
            // Writes in flight count as written until they finish.
            eventlog_written: locked.eventlog_tokens.saturating_sub(get(&c.eventlog_token_unwritten)),
            eventlog_summaries: get(&c.eventlog_summaries),
            eventlog_summarized: get(&c.eventlog_summarized),
            eventlog_rate_limited: locked.eventlog_rate_limited,
            eventlog_alloc_failed: get(&c.eventlog_alloc_failed),
            eventlog_irql_skipped: get(&c.eventlog_irql_skipped),
            eventlog_unreported: locked.unreported_rate_limited.saturating_add(get(&c.unreported_alloc_failed)),
            wmi_fired: get(&c.wmi_fired),
            wmi_disabled: get(&c.wmi_disabled),
            wmi_irql_skipped: get(&c.wmi_irql_skipped),
            wmi_alloc_failed: get(&c.wmi_alloc_failed),
            wmi_failed: get(&c.wmi_failed),
            wmi_last_failure_status: get(&c.wmi_last_failure_status),
            reads_completed: get(&c.reads_completed),
            reads_pended: get(&c.reads_pended),
            clears: get(&c.clears),
            max_write_size: u64::try_from(self.config.max_write_size).unwrap_or(u64::MAX),
            largest_locked_copy: locked.largest_locked_copy,
        }
    }
}

impl<L: LogLock> PendingReadServer for LogBridge<L> {
    fn serve_pending_read(&self, cursor: &CursorCell, output: &mut [u8]) -> ReadCompletion {
        self.serve_read(cursor, output, false, |_, current| Ok(current))
    }
}

/// Validates `READ_LOG` input: empty means "continue, and wait"; otherwise a whole
/// [`ReadLogRequest`] of this version with a known mode and flags.
pub fn parse_read_request(input: &[u8]) -> Result<ReadLogRequest, NtStatus> {
    if input.is_empty() {
        return Ok(ReadLogRequest {
            size: U32::new(u32::try_from(ioctl::READ_LOG_REQUEST_SIZE).unwrap_or(0)),
            version: U32::new(ioctl::CONTRACT_VERSION),
            ..ReadLogRequest::default()
        });
    }
    let (request, _) = ReadLogRequest::read_from_prefix(input).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    if usize::try_from(request.size.get()).ok() != Some(ioctl::READ_LOG_REQUEST_SIZE)
        || input.len() != ioctl::READ_LOG_REQUEST_SIZE
        || request.version.get() != ioctl::CONTRACT_VERSION
    {
        return Err(NtStatus::REVISION_MISMATCH);
    }
    if request.mode.get() > ioctl::READ_MODE_END || request.flags.get() & !ioctl::READ_FLAG_DONT_WAIT != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    Ok(request)
}

/// Builds `READ_LOG` input.
pub fn read_request(mode: u32, flags: u32, cursor: ReadCursor) -> ReadLogRequest {
    ReadLogRequest {
        size: U32::new(u32::try_from(ioctl::READ_LOG_REQUEST_SIZE).unwrap_or(0)),
        version: U32::new(ioctl::CONTRACT_VERSION),
        mode: U32::new(mode),
        flags: U32::new(flags),
        position: U64::new(cursor.position),
        sequence: U64::new(cursor.sequence),
    }
}
