//! What a Win32 caller sees of a completed request: `RtlNtStatusToDosError`'s mapping for every
//! status the driver or the model can complete a request with, and which bytes come back.
//!
//! The mapping is Microsoft's ("Mapping NT status error codes to Win32 error codes", and
//! `RtlNtStatusToDosError`); a status missing here maps to `ERROR_MR_MID_NOT_FOUND` (317), which
//! is what Windows answers for a status it has no entry for. A test pins every status the driver
//! can return.

use logbridge_core::NtStatus;

/// `ERROR_SUCCESS`.
pub const ERROR_SUCCESS: u32 = 0;
/// `ERROR_INVALID_FUNCTION`.
pub const ERROR_INVALID_FUNCTION: u32 = 1;
/// `ERROR_FILE_NOT_FOUND`.
pub const ERROR_FILE_NOT_FOUND: u32 = 2;
/// `ERROR_ACCESS_DENIED`.
pub const ERROR_ACCESS_DENIED: u32 = 5;
/// `ERROR_NOT_READY`.
pub const ERROR_NOT_READY: u32 = 21;
/// `ERROR_BAD_COMMAND`.
pub const ERROR_BAD_COMMAND: u32 = 22;
/// `ERROR_GEN_FAILURE`.
pub const ERROR_GEN_FAILURE: u32 = 31;
/// `ERROR_NOT_SUPPORTED`.
pub const ERROR_NOT_SUPPORTED: u32 = 50;
/// `ERROR_INVALID_PARAMETER`.
pub const ERROR_INVALID_PARAMETER: u32 = 87;
/// `ERROR_INSUFFICIENT_BUFFER`.
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
/// `ERROR_BUSY`.
pub const ERROR_BUSY: u32 = 170;
/// `ERROR_MORE_DATA`.
pub const ERROR_MORE_DATA: u32 = 234;
/// `ERROR_NO_MORE_ITEMS`.
pub const ERROR_NO_MORE_ITEMS: u32 = 259;
/// `ERROR_MR_MID_NOT_FOUND`: what `RtlNtStatusToDosError` answers for a status it does not know.
pub const ERROR_MR_MID_NOT_FOUND: u32 = 317;
/// `ERROR_OPERATION_ABORTED`.
pub const ERROR_OPERATION_ABORTED: u32 = 995;
/// `ERROR_IO_PENDING`.
pub const ERROR_IO_PENDING: u32 = 997;
/// `ERROR_NOT_FOUND`.
pub const ERROR_NOT_FOUND: u32 = 1168;
/// `ERROR_REVISION_MISMATCH`.
pub const ERROR_REVISION_MISMATCH: u32 = 1306;
/// `ERROR_INVALID_SECURITY_DESCR`.
pub const ERROR_INVALID_SECURITY_DESCR: u32 = 1338;
/// `ERROR_INTERNAL_ERROR`.
pub const ERROR_INTERNAL_ERROR: u32 = 1359;
/// `ERROR_NO_SYSTEM_RESOURCES`.
pub const ERROR_NO_SYSTEM_RESOURCES: u32 = 1450;
/// `ERROR_INVALID_USER_BUFFER`.
pub const ERROR_INVALID_USER_BUFFER: u32 = 1784;
/// `ERROR_NOT_ENOUGH_MEMORY`.
pub const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;

/// `RtlNtStatusToDosError` for the statuses LogBridge and the model use.
pub fn win32_error(status: NtStatus) -> u32 {
    match status {
        NtStatus::SUCCESS => ERROR_SUCCESS,
        NtStatus::PENDING => ERROR_IO_PENDING,
        NtStatus::BUFFER_OVERFLOW => ERROR_MORE_DATA,
        NtStatus::DEVICE_BUSY => ERROR_BUSY,
        NtStatus::NO_MORE_ENTRIES => ERROR_NO_MORE_ITEMS,
        NtStatus::UNSUCCESSFUL => ERROR_GEN_FAILURE,
        NtStatus::NOT_IMPLEMENTED | NtStatus::INVALID_DEVICE_REQUEST => ERROR_INVALID_FUNCTION,
        NtStatus::INVALID_PARAMETER => ERROR_INVALID_PARAMETER,
        NtStatus::NO_SUCH_DEVICE | NtStatus::OBJECT_NAME_NOT_FOUND => ERROR_FILE_NOT_FOUND,
        NtStatus::NO_MEMORY => ERROR_NOT_ENOUGH_MEMORY,
        NtStatus::ACCESS_DENIED | NtStatus::DELETE_PENDING => ERROR_ACCESS_DENIED,
        NtStatus::BUFFER_TOO_SMALL => ERROR_INSUFFICIENT_BUFFER,
        NtStatus::REVISION_MISMATCH => ERROR_REVISION_MISMATCH,
        NtStatus::INVALID_SECURITY_DESCR => ERROR_INVALID_SECURITY_DESCR,
        NtStatus::INSUFFICIENT_RESOURCES => ERROR_NO_SYSTEM_RESOURCES,
        NtStatus::DEVICE_NOT_READY => ERROR_NOT_READY,
        NtStatus::NOT_SUPPORTED => ERROR_NOT_SUPPORTED,
        NtStatus::INTERNAL_ERROR => ERROR_INTERNAL_ERROR,
        NtStatus::CANCELLED => ERROR_OPERATION_ABORTED,
        NtStatus::INVALID_DEVICE_STATE => ERROR_BAD_COMMAND,
        NtStatus::INVALID_BUFFER_SIZE => ERROR_INVALID_USER_BUFFER,
        NtStatus::NOT_FOUND => ERROR_NOT_FOUND,
        _ => ERROR_MR_MID_NOT_FOUND,
    }
}

/// The symbolic name of a Win32 error this module knows.
pub fn win32_name(error: u32) -> &'static str {
    match error {
        ERROR_SUCCESS => "ERROR_SUCCESS",
        ERROR_INVALID_FUNCTION => "ERROR_INVALID_FUNCTION",
        ERROR_FILE_NOT_FOUND => "ERROR_FILE_NOT_FOUND",
        ERROR_ACCESS_DENIED => "ERROR_ACCESS_DENIED",
        ERROR_NOT_ENOUGH_MEMORY => "ERROR_NOT_ENOUGH_MEMORY",
        ERROR_NOT_READY => "ERROR_NOT_READY",
        ERROR_BAD_COMMAND => "ERROR_BAD_COMMAND",
        ERROR_GEN_FAILURE => "ERROR_GEN_FAILURE",
        ERROR_NOT_SUPPORTED => "ERROR_NOT_SUPPORTED",
        ERROR_INVALID_PARAMETER => "ERROR_INVALID_PARAMETER",
        ERROR_INSUFFICIENT_BUFFER => "ERROR_INSUFFICIENT_BUFFER",
        ERROR_BUSY => "ERROR_BUSY",
        ERROR_MORE_DATA => "ERROR_MORE_DATA",
        ERROR_NO_MORE_ITEMS => "ERROR_NO_MORE_ITEMS",
        ERROR_MR_MID_NOT_FOUND => "ERROR_MR_MID_NOT_FOUND",
        ERROR_OPERATION_ABORTED => "ERROR_OPERATION_ABORTED",
        ERROR_IO_PENDING => "ERROR_IO_PENDING",
        ERROR_NOT_FOUND => "ERROR_NOT_FOUND",
        ERROR_REVISION_MISMATCH => "ERROR_REVISION_MISMATCH",
        ERROR_INVALID_SECURITY_DESCR => "ERROR_INVALID_SECURITY_DESCR",
        ERROR_INTERNAL_ERROR => "ERROR_INTERNAL_ERROR",
        ERROR_NO_SYSTEM_RESOURCES => "ERROR_NO_SYSTEM_RESOURCES",
        ERROR_INVALID_USER_BUFFER => "ERROR_INVALID_USER_BUFFER",
        _ => "?",
    }
}

/// What `WriteFile` / `DeviceIoControl` report for a request the driver completed with `status`
/// and `information`, and how many output bytes reach the caller's buffer through the I/O
/// manager's copy (`METHOD_BUFFERED`; for `METHOD_OUT_DIRECT` the driver wrote the caller's pages
/// itself, whatever the status).
///
/// * `NT_SUCCESS`: the call returns TRUE, the byte count is Information, and for buffered I/O
///   Information bytes of the system buffer are copied back.
/// * `NT_WARNING` (e.g. `STATUS_BUFFER_OVERFLOW`): the call returns FALSE with the mapped error
///   (`ERROR_MORE_DATA`), but the I/O manager still copies Information bytes back and reports
///   them: a warning is not an error.
/// * `NT_ERROR`: the call returns FALSE; nothing is copied back and the byte count is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerView {
    /// The Win32 call's return value.
    pub succeeded: bool,
    /// `GetLastError()` when it failed, else `ERROR_SUCCESS`.
    pub error: u32,
    /// `lpNumberOfBytesWritten` / `lpBytesReturned`.
    pub bytes: usize,
    /// Bytes the I/O manager copies from the system buffer to the caller's output buffer.
    pub copied_back: usize,
}

/// The caller's view of a completion (see [`CallerView`]).
pub fn caller_view(status: NtStatus, information: u64, buffered_output_length: usize) -> CallerView {
    let information = usize::try_from(information).unwrap_or(usize::MAX);
    if status.is_error() {
        return CallerView { succeeded: false, error: win32_error(status), bytes: 0, copied_back: 0 };
    }
    let copied_back = information.min(buffered_output_length);
    CallerView {
        succeeded: status.is_success(),
        error: if status.is_success() { ERROR_SUCCESS } else { win32_error(status) },
        bytes: information,
        copied_back,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_the_driver_returns_has_its_documented_win32_error() {
        // RtlNtStatusToDosError / "Mapping NT status error codes to Win32 error codes".
        let table = [
            (NtStatus::SUCCESS, 0),
            (NtStatus::CANCELLED, 995),
            (NtStatus::BUFFER_OVERFLOW, 234),
            (NtStatus::BUFFER_TOO_SMALL, 122),
            (NtStatus::INVALID_BUFFER_SIZE, 1784),
            (NtStatus::INVALID_DEVICE_REQUEST, 1),
            (NtStatus::INVALID_DEVICE_STATE, 22),
            (NtStatus::REVISION_MISMATCH, 1306),
            (NtStatus::INSUFFICIENT_RESOURCES, 1450),
            (NtStatus::INVALID_PARAMETER, 87),
            (NtStatus::ACCESS_DENIED, 5),
            (NtStatus::DELETE_PENDING, 5),
            (NtStatus::INTERNAL_ERROR, 1359),
        ];
        for (status, error) in table {
            assert_eq!(win32_error(status), error, "{status}");
            assert_ne!(win32_name(error), "?");
        }
    }

    #[test]
    fn warnings_copy_back_and_errors_do_not() {
        let warning = caller_view(NtStatus::BUFFER_OVERFLOW, 16, 64);
        assert_eq!(warning, CallerView { succeeded: false, error: ERROR_MORE_DATA, bytes: 16, copied_back: 16 });
        let error = caller_view(NtStatus::BUFFER_TOO_SMALL, 16, 64);
        assert_eq!(error, CallerView { succeeded: false, error: ERROR_INSUFFICIENT_BUFFER, bytes: 0, copied_back: 0 });
        let ok = caller_view(NtStatus::SUCCESS, 100, 64);
        assert_eq!(ok, CallerView { succeeded: true, error: 0, bytes: 100, copied_back: 64 });
    }

    #[test]
    fn the_facades_statuses_equal_the_cores() {
        // The facade's STATUS_* constants are copied from wdk-sys; the core's from ntstatus.h.
        for (facade, core) in [
            (wdk_sys::STATUS_SUCCESS, NtStatus::SUCCESS),
            (wdk_sys::STATUS_PENDING, NtStatus::PENDING),
            (wdk_sys::STATUS_BUFFER_OVERFLOW, NtStatus::BUFFER_OVERFLOW),
            (wdk_sys::STATUS_NO_MORE_ENTRIES, NtStatus::NO_MORE_ENTRIES),
            (wdk_sys::STATUS_UNSUCCESSFUL, NtStatus::UNSUCCESSFUL),
            (wdk_sys::STATUS_NOT_IMPLEMENTED, NtStatus::NOT_IMPLEMENTED),
            (wdk_sys::STATUS_INFO_LENGTH_MISMATCH, NtStatus::INFO_LENGTH_MISMATCH),
            (wdk_sys::STATUS_INVALID_PARAMETER, NtStatus::INVALID_PARAMETER),
            (wdk_sys::STATUS_NO_SUCH_DEVICE, NtStatus::NO_SUCH_DEVICE),
            (wdk_sys::STATUS_INVALID_DEVICE_REQUEST, NtStatus::INVALID_DEVICE_REQUEST),
            (wdk_sys::STATUS_NO_MEMORY, NtStatus::NO_MEMORY),
            (wdk_sys::STATUS_ACCESS_DENIED, NtStatus::ACCESS_DENIED),
            (wdk_sys::STATUS_BUFFER_TOO_SMALL, NtStatus::BUFFER_TOO_SMALL),
            (wdk_sys::STATUS_OBJECT_TYPE_MISMATCH, NtStatus::OBJECT_TYPE_MISMATCH),
            (wdk_sys::STATUS_OBJECT_NAME_NOT_FOUND, NtStatus::OBJECT_NAME_NOT_FOUND),
            (wdk_sys::STATUS_DELETE_PENDING, NtStatus::DELETE_PENDING),
            (wdk_sys::STATUS_REVISION_MISMATCH, NtStatus::REVISION_MISMATCH),
            (wdk_sys::STATUS_INVALID_SECURITY_DESCR, NtStatus::INVALID_SECURITY_DESCR),
            (wdk_sys::STATUS_INSUFFICIENT_RESOURCES, NtStatus::INSUFFICIENT_RESOURCES),
            (wdk_sys::STATUS_DEVICE_NOT_READY, NtStatus::DEVICE_NOT_READY),
            (wdk_sys::STATUS_NOT_SUPPORTED, NtStatus::NOT_SUPPORTED),
            (wdk_sys::STATUS_INTERNAL_ERROR, NtStatus::INTERNAL_ERROR),
            (wdk_sys::STATUS_CANCELLED, NtStatus::CANCELLED),
            (wdk_sys::STATUS_INVALID_DEVICE_STATE, NtStatus::INVALID_DEVICE_STATE),
            (wdk_sys::STATUS_INVALID_BUFFER_SIZE, NtStatus::INVALID_BUFFER_SIZE),
            (wdk_sys::STATUS_NOT_FOUND, NtStatus::NOT_FOUND),
        ] {
            assert_eq!(NtStatus(facade), core, "{core}");
        }
    }
}
