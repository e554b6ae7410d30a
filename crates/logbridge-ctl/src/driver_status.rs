//! What the driver's refusals mean, in LogBridge's words: the Win32 error a `WriteFile` or a
//! `DeviceIoControl` on the device fails with, turned into a message that names the LogBridge
//! limit or condition behind it, and the exit status that goes with it.
//!
//! The driver completes a failed request with one of these statuses; the I/O manager hands the
//! caller the Win32 error `RtlNtStatusToDosError` maps it to (the KMDF model's
//! `logbridge_kmdf::win32` has the same table, and the tests check this one against it):
//!
//! | Driver status | Win32 error | When | Message |
//! |---|---|---|---|
//! | `STATUS_INVALID_BUFFER_SIZE` | `ERROR_INVALID_USER_BUFFER` (1784) | a write whose record does not fit the ring, or above `MaxWriteSize` | "larger than the ring log (N bytes)" / "larger than MaxWriteSize (M bytes)", from `GET_STATS`' `ring_capacity` and `max_write_size`; bad input (exit status 3) |
//! | `STATUS_INVALID_DEVICE_REQUEST` | `ERROR_INVALID_FUNCTION` (1) | an IOCTL code the driver does not know | the driver and the app come from different builds |
//! | `STATUS_BUFFER_TOO_SMALL` | `ERROR_INSUFFICIENT_BUFFER` (122) | an output buffer smaller than the reply (`READ_LOG` handles it itself) | the same |
//! | `STATUS_REVISION_MISMATCH` | `ERROR_REVISION_MISMATCH` (1306) | a request of another contract version | the same, with the version |
//! | `STATUS_INVALID_PARAMETER` | `ERROR_INVALID_PARAMETER` (87) | a request field the driver refuses | the same |
//! | `STATUS_CANCELLED` | `ERROR_OPERATION_ABORTED` (995) | a request cancelled (`CancelIoEx`) or its handle cleaned up | cancelled |
//! | `STATUS_INVALID_DEVICE_STATE` | `ERROR_BAD_COMMAND` (22) | the device is starting, stopping or being removed | not ready (exit status 6) |
//! | `STATUS_INSUFFICIENT_RESOURCES` | `ERROR_NO_SYSTEM_RESOURCES` (1450) | nonpaged memory ran out | try again |
//! | `STATUS_INTERNAL_ERROR` | `ERROR_INTERNAL_ERROR` (1359) | a broken driver invariant | see the System log |
//!
//! Any other error keeps Windows' own text and number.

use crate::error::CtlError;
use crate::install::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_FUNCTION, ERROR_OPERATION_ABORTED, ERROR_REVISION_MISMATCH,
};
use logbridge_core::device;
use logbridge_core::ioctl::{self, Stats};
use logbridge_core::record;

/// `ERROR_BAD_COMMAND` (`STATUS_INVALID_DEVICE_STATE`).
pub const ERROR_BAD_COMMAND: u32 = 22;
/// `ERROR_INVALID_PARAMETER` (`STATUS_INVALID_PARAMETER`).
pub const ERROR_INVALID_PARAMETER: u32 = 87;
/// `ERROR_INTERNAL_ERROR` (`STATUS_INTERNAL_ERROR`).
pub const ERROR_INTERNAL_ERROR: u32 = 1359;
/// `ERROR_NO_SYSTEM_RESOURCES` (`STATUS_INSUFFICIENT_RESOURCES`).
pub const ERROR_NO_SYSTEM_RESOURCES: u32 = 1450;
/// `ERROR_INVALID_USER_BUFFER` (`STATUS_INVALID_BUFFER_SIZE`: a write too large for the ring or
/// above `MaxWriteSize`).
pub const ERROR_INVALID_USER_BUFFER: u32 = 1784;

/// The request that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A `WriteFile`: which write of the command, and its size.
    Write {
        /// 0 for the first write of the command.
        index: usize,
        /// Bytes written.
        len: usize,
    },
    /// `IOCTL_LOGBRIDGE_READ_LOG`.
    ReadLog,
    /// `IOCTL_LOGBRIDGE_GET_STATS`.
    GetStats,
    /// `IOCTL_LOGBRIDGE_CLEAR_LOG`.
    ClearLog,
}

impl Request {
    fn describe(self) -> String {
        match self {
            Request::Write { index, len } => format!("write {index} ({len} bytes)"),
            Request::ReadLog => "READ_LOG".to_owned(),
            Request::GetStats => "GET_STATS".to_owned(),
            Request::ClearLog => "CLEAR_LOG".to_owned(),
        }
    }
}

/// The two limits a write is held to, as `GET_STATS` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteLimits {
    /// `ring_capacity`: bytes of the ring; a record (header, payload, padding) must fit.
    pub ring_capacity: u64,
    /// `max_write_size`: the `MaxWriteSize` in force.
    pub max_write_size: u64,
}

impl From<&Stats> for WriteLimits {
    fn from(stats: &Stats) -> WriteLimits {
        WriteLimits { ring_capacity: stats.ring_capacity, max_write_size: stats.max_write_size }
    }
}

/// Which limit a refused write broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TooLarge {
    /// Its record (the payload, a record header and padding) is larger than the whole ring.
    Ring {
        /// The ring's capacity in bytes.
        capacity: u64,
    },
    /// It is above `MaxWriteSize`.
    MaxWriteSize {
        /// `MaxWriteSize` in bytes.
        limit: u64,
    },
}

/// Which limit a write of `len` bytes breaks: the ring if its record does not fit it (or cannot
/// be a record at all), else `MaxWriteSize`.
pub fn too_large(len: usize, limits: WriteLimits) -> TooLarge {
    let record_fits = record::record_size(len)
        .and_then(|size| u64::try_from(size).ok())
        .is_some_and(|size| size <= limits.ring_capacity);
    if record_fits {
        TooLarge::MaxWriteSize { limit: limits.max_write_size }
    } else {
        TooLarge::Ring { capacity: limits.ring_capacity }
    }
}

/// True if explaining `win32` for `request` needs the driver's limits (`GET_STATS`): the caller
/// asks for them only then.
pub fn needs_limits(request: Request, win32: Option<u32>) -> bool {
    matches!(request, Request::Write { .. }) && win32 == Some(ERROR_INVALID_USER_BUFFER)
}

/// The error for a request on `device` that failed with the Win32 error `win32` (`None`: the
/// error carried no Win32 code) and Windows' text `system_message`. `limits` are the driver's
/// write limits when [`needs_limits`] asked for them and `GET_STATS` gave them.
pub fn request_error(
    request: Request,
    device: &str,
    win32: Option<u32>,
    system_message: &str,
    limits: Option<WriteLimits>,
) -> CtlError {
    let what = request.describe();
    let different_builds = "the driver and this logbridge-ctl come from different builds";
    let Some(code) = win32 else {
        return CtlError::Failed(format!("{what} on {device} failed: {}", system_message.trim()));
    };
    match code {
        ERROR_INVALID_USER_BUFFER => match (request, limits) {
            (Request::Write { len, .. }, Some(limits)) => CtlError::BadInput(match too_large(len, limits) {
                TooLarge::Ring { capacity } => format!(
                    "{what} was refused: it is larger than the ring log ({capacity} bytes; a record also takes a \
                     {}-byte header); write less, or raise RingLogSize",
                    record::RECORD_HEADER_SIZE
                ),
                TooLarge::MaxWriteSize { limit } => format!(
                    "{what} was refused: it is larger than MaxWriteSize ({limit} bytes), the driver's registry \
                     parameter; write less, or raise MaxWriteSize (at most {})",
                    device::MAX_WRITE_SIZE_LIMIT
                ),
            }),
            (Request::Write { .. }, None) => CtlError::BadInput(format!(
                "{what} was refused as too large (STATUS_INVALID_BUFFER_SIZE): larger than the ring log or than \
                 MaxWriteSize; `logbridge-ctl stats` shows ring_capacity and max_write_size"
            )),
            _ => CtlError::Failed(format!(
                "{what} on {device}: the driver refused its buffer size ({different_builds}?)"
            )),
        },
        ERROR_INVALID_FUNCTION => CtlError::Failed(format!(
            "{what} on {device}: the driver does not know this request (STATUS_INVALID_DEVICE_REQUEST): {different_builds}"
        )),
        ERROR_INSUFFICIENT_BUFFER => CtlError::Failed(format!(
            "{what} on {device}: the reply is larger than this logbridge-ctl expects (STATUS_BUFFER_TOO_SMALL): \
             {different_builds}"
        )),
        ERROR_REVISION_MISMATCH => CtlError::Failed(format!(
            "{what} on {device}: the driver speaks another contract version than this logbridge-ctl ({}): \
             {different_builds}",
            ioctl::CONTRACT_VERSION
        )),
        ERROR_INVALID_PARAMETER => CtlError::Failed(format!(
            "{what} on {device}: the driver refused the request's fields (STATUS_INVALID_PARAMETER): {different_builds}?"
        )),
        ERROR_OPERATION_ABORTED => CtlError::Failed(format!("{what} on {device} was cancelled")),
        ERROR_BAD_COMMAND => CtlError::NotReady(format!(
            "{what} on {device}: the LogBridge device is not ready (it is starting, stopping or being removed: \
             STATUS_INVALID_DEVICE_STATE); try again, or check Device Manager (System devices)"
        )),
        ERROR_NO_SYSTEM_RESOURCES => CtlError::Failed(format!(
            "{what} on {device}: the driver could not get the memory it needed (STATUS_INSUFFICIENT_RESOURCES); \
             try again"
        )),
        ERROR_INTERNAL_ERROR => CtlError::Failed(format!(
            "{what} on {device}: the driver found its own state inconsistent (STATUS_INTERNAL_ERROR); \
             `logbridge-ctl events` and `stats` may say more"
        )),
        _ => CtlError::Failed(format!("{what} on {device} failed: {} (Win32 error {code})", system_message.trim())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ExitStatus;
    use logbridge_core::NtStatus;
    use logbridge_kmdf::win32::win32_error;

    const DEVICE: &str = r"\\?\ROOT#SYSTEM#0000#{c97fe1c4}";

    fn message(error: &CtlError) -> String {
        error.to_string()
    }

    #[test]
    fn the_codes_are_what_windows_maps_the_drivers_statuses_to() {
        // The KMDF model's RtlNtStatusToDosError table, which cites Microsoft's mapping.
        for (status, code) in [
            (NtStatus::INVALID_BUFFER_SIZE, ERROR_INVALID_USER_BUFFER),
            (NtStatus::INVALID_DEVICE_REQUEST, ERROR_INVALID_FUNCTION),
            (NtStatus::BUFFER_TOO_SMALL, ERROR_INSUFFICIENT_BUFFER),
            (NtStatus::REVISION_MISMATCH, ERROR_REVISION_MISMATCH),
            (NtStatus::INVALID_PARAMETER, ERROR_INVALID_PARAMETER),
            (NtStatus::CANCELLED, ERROR_OPERATION_ABORTED),
            (NtStatus::INVALID_DEVICE_STATE, ERROR_BAD_COMMAND),
            (NtStatus::INSUFFICIENT_RESOURCES, ERROR_NO_SYSTEM_RESOURCES),
            (NtStatus::INTERNAL_ERROR, ERROR_INTERNAL_ERROR),
        ] {
            assert_eq!(win32_error(status), code, "{status}");
            // Each gets LogBridge's wording, never Windows' generic text.
            for request in [Request::Write { index: 0, len: 10 }, Request::GetStats, Request::ReadLog] {
                let error = request_error(request, DEVICE, Some(code), "GENERIC WINDOWS TEXT", None);
                assert!(!message(&error).contains("GENERIC WINDOWS TEXT"), "{status} {request:?}: {error}");
            }
        }
    }

    #[test]
    fn a_refused_write_names_the_limit_it_broke() {
        let limits = WriteLimits { ring_capacity: 65536, max_write_size: 16384 };
        // The record of a 65536-byte write needs a header too: the ring.
        assert_eq!(too_large(65536, limits), TooLarge::Ring { capacity: 65536 });
        assert_eq!(too_large(65536 - 32, limits), TooLarge::MaxWriteSize { limit: 16384 });
        assert_eq!(too_large(65536 - 31, limits), TooLarge::Ring { capacity: 65536 });
        assert_eq!(too_large(20000, limits), TooLarge::MaxWriteSize { limit: 16384 });
        // A payload beyond the record format is larger than any ring.
        assert_eq!(too_large(usize::MAX, limits), TooLarge::Ring { capacity: 65536 });

        let ring = request_error(
            Request::Write { index: 2, len: 70000 },
            DEVICE,
            Some(ERROR_INVALID_USER_BUFFER),
            "The supplied user buffer is not valid for the requested operation.",
            Some(limits),
        );
        assert_eq!(ring.exit_status(), ExitStatus::BadInput);
        let text = message(&ring);
        assert!(
            text.starts_with("write 2 (70000 bytes) was refused: it is larger than the ring log (65536 bytes"),
            "{text}"
        );
        assert!(!text.contains("supplied user buffer"), "{text}");

        let max = request_error(Request::Write { index: 0, len: 20000 }, DEVICE, Some(1784), "", Some(limits));
        assert_eq!(max.exit_status(), ExitStatus::BadInput);
        assert!(message(&max).contains("larger than MaxWriteSize (16384 bytes)"), "{max}");

        // Without GET_STATS the message still says what the two limits are.
        let unknown = request_error(Request::Write { index: 0, len: 20000 }, DEVICE, Some(1784), "", None);
        assert_eq!(unknown.exit_status(), ExitStatus::BadInput);
        assert!(message(&unknown).contains("ring log or than MaxWriteSize"), "{unknown}");

        assert!(needs_limits(Request::Write { index: 0, len: 1 }, Some(1784)));
        assert!(!needs_limits(Request::Write { index: 0, len: 1 }, Some(ERROR_BAD_COMMAND)));
        assert!(!needs_limits(Request::GetStats, Some(1784)));
    }

    #[test]
    fn other_statuses_get_logbridge_wording_and_their_exit_status() {
        let not_ready = request_error(Request::Write { index: 0, len: 1 }, DEVICE, Some(ERROR_BAD_COMMAND), "", None);
        assert_eq!(not_ready.exit_status(), ExitStatus::NotReady);
        assert!(message(&not_ready).contains("not ready"), "{not_ready}");
        let revision = request_error(Request::ReadLog, DEVICE, Some(ERROR_REVISION_MISMATCH), "", None);
        assert!(message(&revision).contains("contract version") && message(&revision).contains(DEVICE));
        let unknown = request_error(Request::ClearLog, DEVICE, Some(ERROR_INVALID_FUNCTION), "", None);
        assert!(message(&unknown).contains("does not know this request"), "{unknown}");
        let small = request_error(Request::GetStats, DEVICE, Some(ERROR_INSUFFICIENT_BUFFER), "", None);
        assert!(message(&small).contains("different builds"), "{small}");
        let cancelled = request_error(Request::ReadLog, DEVICE, Some(ERROR_OPERATION_ABORTED), "", None);
        assert!(message(&cancelled).ends_with("was cancelled"), "{cancelled}");
        // Anything else keeps Windows' text and number.
        let other = request_error(
            Request::GetStats,
            DEVICE,
            Some(31),
            "A device attached to the system is not functioning.\r\n",
            None,
        );
        assert_eq!(
            message(&other),
            format!(
                "GET_STATS on {DEVICE} failed: A device attached to the system is not functioning. (Win32 error 31)"
            )
        );
        assert_eq!(other.exit_status(), ExitStatus::Failed);
    }
}
