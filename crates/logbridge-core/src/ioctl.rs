//! The IOCTL contract between the driver and `logbridge-ctl`.
//!
//! | Code | Value | Method | Access | Input | Output |
//! |---|---|---|---|---|---|
//! | `IOCTL_LOGBRIDGE_READ_LOG` | 0x00226002 | `METHOD_OUT_DIRECT` | read | optional [`ReadLogRequest`] | [`ReadLogResponse`] then whole records |
//! | `IOCTL_LOGBRIDGE_GET_STATS` | 0x00226004 | `METHOD_BUFFERED` | read | none | [`Stats`] |
//! | `IOCTL_LOGBRIDGE_CLEAR_LOG` | 0x0022A008 | `METHOD_BUFFERED` | write | none | none |
//!
//! Every struct is little-endian with a fixed layout and starts with `Size` and `Version`; the
//! driver refuses another size or version with `STATUS_REVISION_MISMATCH`. An output buffer too
//! small for the fixed struct gets `STATUS_BUFFER_TOO_SMALL`. Every failure completes with
//! Information 0: on an `NT_ERROR` status the I/O manager copies nothing back (`DeviceIoControl`
//! fails and its byte count is 0), so the sizes are documented here instead ([`STATS_SIZE`],
//! [`READ_LOG_RESPONSE_SIZE`]).
//!
//! `READ_LOG` is the NDIS `IOCTL_NDIS_GET_LOG_DATA` analogue: it returns whole records from the
//! handle's cursor and *pends* until a write brings data, unless [`READ_FLAG_DONT_WAIT`] is set.
//! If the next record does not fit, it fails with `STATUS_BUFFER_TOO_SMALL` and the response header
//! says how many bytes are needed (`required_size`): METHOD_OUT_DIRECT has the driver write the
//! caller's locked pages directly, so the header is there although the request failed. One
//! request returns at most `device::SPIN_LOCK_COPY_LIMIT` bytes of records (the spin-lock hold
//! bound); a larger buffer just leaves the rest for the next request.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `FILE_DEVICE_UNKNOWN`.
pub const FILE_DEVICE_UNKNOWN: u32 = 0x22;
/// `METHOD_BUFFERED`.
pub const METHOD_BUFFERED: u32 = 0;
/// `METHOD_IN_DIRECT`.
pub const METHOD_IN_DIRECT: u32 = 1;
/// `METHOD_OUT_DIRECT`.
pub const METHOD_OUT_DIRECT: u32 = 2;
/// `METHOD_NEITHER`.
pub const METHOD_NEITHER: u32 = 3;
/// `FILE_ANY_ACCESS`.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_ACCESS` (= `FILE_READ_DATA`).
pub const FILE_READ_ACCESS: u32 = 1;
/// `FILE_WRITE_ACCESS` (= `FILE_WRITE_DATA`).
pub const FILE_WRITE_ACCESS: u32 = 2;

/// `CTL_CODE(DeviceType, Function, Method, Access)`.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// The transfer method of a code (`METHOD_FROM_CTL_CODE`).
pub const fn method_of(code: u32) -> u32 {
    code & 3
}

/// The access a code requires.
pub const fn access_of(code: u32) -> u32 {
    (code >> 14) & 3
}

/// True if a handle opened with `granted` (`FILE_READ_DATA` = 1, `FILE_WRITE_DATA` = 2 bits) may
/// send `code`: the check the I/O manager makes before the driver sees the request.
pub const fn access_allows(granted: u32, code: u32) -> bool {
    let required = access_of(code);
    granted & required == required
}

/// Read whole records from the ring log.
pub const IOCTL_LOGBRIDGE_READ_LOG: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x800, METHOD_OUT_DIRECT, FILE_READ_ACCESS);
/// Read the driver's statistics.
pub const IOCTL_LOGBRIDGE_GET_STATS: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_READ_ACCESS);
/// Empty the ring log.
pub const IOCTL_LOGBRIDGE_CLEAR_LOG: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_WRITE_ACCESS);

/// Version of every struct below.
pub const CONTRACT_VERSION: u32 = 1;

/// Which buffers a LogBridge IOCTL uses, so that the kernel layer retrieves only those.
///
/// With `METHOD_BUFFERED` the input and output are the *same* system buffer, so handing the core
/// both as separate slices would alias; the buffered codes take no input, and `READ_LOG`
/// (`METHOD_OUT_DIRECT`) has its input in the system buffer and its output in the caller's
/// locked pages. An unknown code uses none: it is refused without touching any buffer (and a
/// `METHOD_NEITHER` code's raw user pointers are never dereferenced).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlBuffers {
    /// The handler reads the input buffer.
    pub input: bool,
    /// The handler writes the output buffer.
    pub output: bool,
}

/// The buffers `code` uses, or `None` for a code LogBridge does not implement.
pub const fn buffers_of(code: u32) -> Option<IoctlBuffers> {
    match code {
        IOCTL_LOGBRIDGE_READ_LOG => Some(IoctlBuffers { input: true, output: true }),
        IOCTL_LOGBRIDGE_GET_STATS => Some(IoctlBuffers { input: false, output: true }),
        IOCTL_LOGBRIDGE_CLEAR_LOG => Some(IoctlBuffers { input: false, output: false }),
        _ => None,
    }
}

/// `ReadLogRequest.mode`: continue from this handle's cursor (also what an empty input means).
pub const READ_MODE_CONTINUE: u32 = 0;
/// `ReadLogRequest.mode`: start from the oldest retained record.
pub const READ_MODE_OLDEST: u32 = 1;
/// `ReadLogRequest.mode`: start at `position`/`sequence` (from an earlier response).
pub const READ_MODE_POSITION: u32 = 2;
/// `ReadLogRequest.mode`: skip to the end; only records written from now on.
pub const READ_MODE_END: u32 = 3;
/// `ReadLogRequest.flags`: complete at once even when there is nothing to read.
pub const READ_FLAG_DONT_WAIT: u32 = 1;

/// Input of `READ_LOG` (optional; 32 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ReadLogRequest {
    /// `size_of::<ReadLogRequest>()` = 32.
    pub size: U32,
    /// [`CONTRACT_VERSION`].
    pub version: U32,
    /// One of the `READ_MODE_*` values.
    pub mode: U32,
    /// `READ_FLAG_*` bits.
    pub flags: U32,
    /// With [`READ_MODE_POSITION`]: the stream position to read from.
    pub position: U64,
    /// With [`READ_MODE_POSITION`]: the sequence number of the record there.
    pub sequence: U64,
}

/// Output header of `READ_LOG` (64 bytes), followed by `bytes` bytes of whole records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ReadLogResponse {
    /// 64.
    pub size: U32,
    /// [`CONTRACT_VERSION`].
    pub version: U32,
    /// Record bytes after this header.
    pub bytes: U32,
    /// Records after this header.
    pub records: U32,
    /// Sequence number of the first record.
    pub first_sequence: U64,
    /// Position to continue from.
    pub next_position: U64,
    /// Sequence number to continue from.
    pub next_sequence: U64,
    /// Records the reader missed (overwritten or cleared) before these.
    pub lost_records: U64,
    /// Bytes the reader missed.
    pub lost_bytes: U64,
    /// With `STATUS_BUFFER_TOO_SMALL`: the output size needed for the next record.
    pub required_size: U32,
    /// Zero.
    pub reserved: U32,
}

/// Size of [`ReadLogRequest`].
pub const READ_LOG_REQUEST_SIZE: usize = core::mem::size_of::<ReadLogRequest>();
/// Size of [`ReadLogResponse`].
pub const READ_LOG_RESPONSE_SIZE: usize = core::mem::size_of::<ReadLogResponse>();
const _: () = assert!(READ_LOG_REQUEST_SIZE == 32);
const _: () = assert!(READ_LOG_RESPONSE_SIZE == 64);

macro_rules! stats_struct {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        /// Output of `GET_STATS`: `Size`, `Version`, then one u64 per counter.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
        #[repr(C)]
        pub struct RawStats {
            /// Size of the struct.
            pub size: U32,
            /// [`CONTRACT_VERSION`].
            pub version: U32,
            $($(#[doc = $doc])* pub $field: U64,)*
        }

        /// The driver's statistics, decoded.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        impl Stats {
            /// Every counter with its name, in wire order.
            pub fn fields(&self) -> [(&'static str, u64); STATS_FIELD_COUNT] {
                [$((stringify!($field), self.$field),)*]
            }

            /// The wire form.
            pub fn to_raw(&self) -> RawStats {
                RawStats {
                    size: U32::new(u32::try_from(STATS_SIZE).unwrap_or(0)),
                    version: U32::new(CONTRACT_VERSION),
                    $($field: U64::new(self.$field),)*
                }
            }

            /// Decodes the wire form; checks size and version.
            pub fn from_bytes(bytes: &[u8]) -> Option<Stats> {
                let (raw, _) = RawStats::read_from_prefix(bytes).ok()?;
                if usize::try_from(raw.size.get()).ok()? != STATS_SIZE || raw.version.get() != CONTRACT_VERSION {
                    return None;
                }
                Some(Stats { $($field: raw.$field.get(),)* })
            }
        }

        /// Number of counters.
        pub const STATS_FIELD_COUNT: usize = [$(stringify!($field),)*].len();
    };
}

stats_struct! {
    /// Ring capacity in bytes.
    ring_capacity,
    /// Bytes of retained records.
    ring_used,
    /// Retained records.
    ring_records,
    /// Stream position of the next record.
    ring_head,
    /// Stream position of the oldest retained record.
    ring_tail,
    /// Sequence number of the next record.
    next_sequence,
    /// Sequence number of the oldest retained record.
    oldest_sequence,
    /// Records overwritten to make room.
    records_overwritten,
    /// Bytes overwritten to make room.
    bytes_overwritten,
    /// Times the ring dropped everything after finding a bad header (should stay 0).
    ring_repairs,
    /// Writes completed successfully.
    writes,
    /// Bytes of those writes.
    bytes_written,
    /// Zero-length writes among them.
    zero_length_writes,
    /// Writes refused (too large for the ring or above MaxWriteSize).
    writes_rejected,
    /// Event-log entries written for writes (counted as the write takes its token, under the log
    /// lock, and taken back if the entry cannot be written; an entry being written counts).
    eventlog_written,
    /// Summary entries written.
    eventlog_summaries,
    /// Writes whose missing entry a written summary accounted for. For every write:
    /// `eventlog_written + eventlog_summarized + eventlog_unreported + eventlog_irql_skipped == writes`.
    eventlog_summarized,
    /// Writes that got no entry because of the rate limit.
    eventlog_rate_limited,
    /// Entries not written because IoAllocateErrorLogEntry returned NULL.
    eventlog_alloc_failed,
    /// Entries skipped because the IRQL was above DISPATCH_LEVEL.
    eventlog_irql_skipped,
    /// Entries not written and not yet reported by a summary.
    eventlog_unreported,
    /// WMI events delivered to IoWMIWriteEvent successfully.
    wmi_fired,
    /// Writes with no WMI event because no consumer had enabled it.
    wmi_disabled,
    /// Writes with no WMI event because the IRQL was above APC_LEVEL.
    wmi_irql_skipped,
    /// WMI events not fired because nonpaged memory was not available.
    wmi_alloc_failed,
    /// IoWMIWriteEvent failures (the buffer was freed by the driver).
    wmi_failed,
    /// The status of the last IoWMIWriteEvent failure.
    wmi_last_failure_status,
    /// READ_LOG requests completed with records or a loss report.
    reads_completed,
    /// READ_LOG requests that pended for data.
    reads_pended,
    /// CLEAR_LOG requests.
    clears,
    /// The `MaxWriteSize` in force (a larger write gets `STATUS_INVALID_BUFFER_SIZE`).
    max_write_size,
    /// The most bytes copied into or out of the ring under its spin lock by one request (at most
    /// `device::SPIN_LOCK_COPY_LIMIT`).
    largest_locked_copy,
}

/// Size of [`RawStats`].
pub const STATS_SIZE: usize = core::mem::size_of::<RawStats>();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_ctl_code() {
        // Worked values from windows-layouts.md §5.
        assert_eq!(ctl_code(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS), 0x0022_2000);
        assert_eq!(ctl_code(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_READ_ACCESS), 0x0022_6004);
        assert_eq!(
            ctl_code(FILE_DEVICE_UNKNOWN, 0x802, METHOD_OUT_DIRECT, FILE_READ_ACCESS | FILE_WRITE_ACCESS),
            0x0022_E00A
        );
        assert_eq!(ctl_code(0x17, 7, METHOD_OUT_DIRECT, FILE_ANY_ACCESS), 0x0017_001E); // IOCTL_NDIS_GET_LOG_DATA
        assert_eq!(IOCTL_LOGBRIDGE_READ_LOG, 0x0022_6002);
        assert_eq!(IOCTL_LOGBRIDGE_GET_STATS, 0x0022_6004);
        assert_eq!(IOCTL_LOGBRIDGE_CLEAR_LOG, 0x0022_A008);
        assert_eq!(method_of(IOCTL_LOGBRIDGE_READ_LOG), METHOD_OUT_DIRECT);
        assert!(access_allows(FILE_READ_ACCESS, IOCTL_LOGBRIDGE_READ_LOG));
        assert!(!access_allows(FILE_READ_ACCESS, IOCTL_LOGBRIDGE_CLEAR_LOG));
        assert!(access_allows(FILE_READ_ACCESS | FILE_WRITE_ACCESS, IOCTL_LOGBRIDGE_CLEAR_LOG));
    }

    #[test]
    fn only_non_aliasing_buffers_are_requested() {
        for code in [IOCTL_LOGBRIDGE_READ_LOG, IOCTL_LOGBRIDGE_GET_STATS, IOCTL_LOGBRIDGE_CLEAR_LOG] {
            let buffers = buffers_of(code).unwrap();
            // Input and output of a METHOD_BUFFERED code share one buffer: never both.
            if method_of(code) == METHOD_BUFFERED {
                assert!(!(buffers.input && buffers.output), "{code:#x}");
            }
            assert_ne!(method_of(code), METHOD_NEITHER);
        }
        assert_eq!(buffers_of(IOCTL_LOGBRIDGE_READ_LOG), Some(IoctlBuffers { input: true, output: true }));
        assert_eq!(buffers_of(IOCTL_LOGBRIDGE_CLEAR_LOG), Some(IoctlBuffers { input: false, output: false }));
        assert_eq!(buffers_of(ctl_code(FILE_DEVICE_UNKNOWN, 0x800, METHOD_NEITHER, FILE_ANY_ACCESS)), None);
        assert_eq!(buffers_of(0), None);
    }

    #[test]
    fn stats_round_trip_and_check_their_version() {
        let mut stats = Stats::default();
        stats.writes = 5;
        stats.clears = u64::MAX;
        let raw = stats.to_raw();
        assert_eq!(STATS_SIZE, 8 + 8 * STATS_FIELD_COUNT);
        assert_eq!(Stats::from_bytes(raw.as_bytes()), Some(stats));
        let mut bad = raw;
        bad.version = U32::new(2);
        assert_eq!(Stats::from_bytes(bad.as_bytes()), None);
        assert_eq!(Stats::from_bytes(&raw.as_bytes()[..STATS_SIZE - 1]), None);
        assert_eq!(stats.fields()[10], ("writes", 5));
    }
}
