//! The LogBridge device from user mode: discovery by interface class, `CreateFileW`, writes and
//! the three IOCTLs, synchronous or overlapped.

use crate::driver_status::{self, Request, WriteLimits};
use crate::error::CtlError;
use crate::install;
use crate::tail::{AfterIssue, after_issue};
use logbridge_core::guid::GUID_DEVINTERFACE_LOGBRIDGE;
use logbridge_core::ioctl::{self, Stats};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use windows::Win32::Devices::DeviceAndDriverInstallation::{
    CM_GET_DEVICE_INTERFACE_LIST_PRESENT, CM_Get_Device_Interface_List_SizeW, CM_Get_Device_Interface_ListW,
    CR_BUFFER_SMALL, CR_SUCCESS,
};
use windows::Win32::Foundation::{CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE};
use windows::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_OVERLAPPED, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
    WriteFile,
};
use windows::Win32::System::IO::{CancelIoEx, DeviceIoControl, GetOverlappedResult, OVERLAPPED};
use windows::Win32::System::Threading::CreateEventW;
use windows::core::{GUID, HSTRING, PCWSTR};

/// The interface GUID as the `windows` crate spells it.
pub fn interface_guid() -> GUID {
    let g = GUID_DEVINTERFACE_LOGBRIDGE;
    GUID::from_values(g.data1, g.data2, g.data3, g.data4)
}

/// The Win32 error code of a `windows` error, if it carries one.
pub fn win32_code(error: &windows::core::Error) -> Option<u32> {
    install::win32_code_of(error.code().0)
}

/// The interface paths of every present LogBridge device (`CM_Get_Device_Interface_ListW`).
pub fn interface_paths() -> Result<Vec<String>, CtlError> {
    let guid = interface_guid();
    // The list can grow between the size query and the read: retry on CR_BUFFER_SMALL.
    for _ in 0..8 {
        let mut length: u32 = 0;
        // SAFETY: `length` and `guid` are valid for the call; no device id filter (null).
        let cr = unsafe {
            CM_Get_Device_Interface_List_SizeW(&mut length, &guid, PCWSTR::null(), CM_GET_DEVICE_INTERFACE_LIST_PRESENT)
        };
        if cr != CR_SUCCESS {
            return Err(CtlError::Failed(format!("CM_Get_Device_Interface_List_Size failed (CONFIGRET {})", cr.0)));
        }
        let mut buffer = vec![0u16; usize::try_from(length).unwrap_or(0).max(1)];
        // SAFETY: `buffer` is a writable slice of `length` units; `guid` outlives the call.
        let cr = unsafe {
            CM_Get_Device_Interface_ListW(&guid, PCWSTR::null(), &mut buffer, CM_GET_DEVICE_INTERFACE_LIST_PRESENT)
        };
        if cr == CR_BUFFER_SMALL {
            continue;
        }
        if cr != CR_SUCCESS {
            return Err(CtlError::Failed(format!("CM_Get_Device_Interface_List failed (CONFIGRET {})", cr.0)));
        }
        return Ok(install::parse_multi_sz(&buffer));
    }
    Err(CtlError::Failed("the LogBridge interface list kept changing while it was read".to_owned()))
}

/// An open handle to the device, closed on drop.
#[derive(Debug)]
pub struct Device {
    handle: HANDLE,
    path: String,
    overlapped: bool,
    /// Set by Ctrl+C ([`cancel_on_ctrl_c`]): checked again once an overlapped request pends.
    stop: Option<Arc<AtomicBool>>,
}

// SAFETY: a file HANDLE may be used from any thread; the kernel serialises what must be.
unsafe impl Send for Device {}
// SAFETY: as above; every method takes the handle by value and the OS synchronises the calls.
unsafe impl Sync for Device {}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this value and closed exactly once, here.
        let _ = unsafe { CloseHandle(self.handle) };
    }
}

impl Device {
    /// Opens the device at `path` (an explicit `--device`), or the one found by its interface.
    /// `overlapped` opens it for overlapped I/O (pending reads that Ctrl+C can cancel).
    pub fn open(explicit: Option<&std::path::Path>, overlapped: bool) -> Result<Device, CtlError> {
        let path = match explicit {
            Some(path) => path.display().to_string(),
            None => {
                let (path, note) = install::choose_device(&interface_paths()?).map_err(CtlError::NotReady)?;
                if let Some(note) = note {
                    crate::report_note(&note);
                }
                path
            }
        };
        let flags = if overlapped { FILE_FLAG_OVERLAPPED } else { FILE_ATTRIBUTE_NORMAL };
        let wide = HSTRING::from(path.as_str());
        // SAFETY: `wide` is a NUL-terminated UTF-16 string that outlives the call.
        let opened = unsafe {
            CreateFileW(
                &wide,
                GENERIC_READ.0 | GENERIC_WRITE.0,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                None,
                OPEN_EXISTING,
                flags,
                None,
            )
        };
        match opened {
            Ok(handle) => Ok(Device { handle, path, overlapped, stop: None }),
            Err(e) => {
                let message = install::open_error(&path, win32_code(&e).unwrap_or(0), &e.message());
                Err(match win32_code(&e) {
                    Some(install::ERROR_ACCESS_DENIED) | Some(install::ERROR_FILE_NOT_FOUND) => {
                        CtlError::NotReady(message)
                    }
                    _ => CtlError::Failed(message),
                })
            }
        }
    }

    /// The path it was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw handle, for `CancelIoEx` from a Ctrl+C handler.
    pub fn raw(&self) -> isize {
        self.handle.0 as isize
    }

    /// One `WriteFile`: the driver completes it once every channel is done. Returns the byte count.
    pub fn write(&self, payload: &[u8]) -> Result<usize, windows::core::Error> {
        if self.overlapped {
            return self.overlapped_call(|ov| {
                // SAFETY: `payload` and `ov` stay alive until the overlapped call has completed
                // (overlapped_call waits for it before returning).
                unsafe { WriteFile(self.handle, Some(payload), None, Some(ov)) }
            });
        }
        let mut written: u32 = 0;
        // SAFETY: `payload` and `written` outlive this synchronous call.
        unsafe { WriteFile(self.handle, Some(payload), Some(&mut written), None) }?;
        Ok(usize::try_from(written).unwrap_or(usize::MAX))
    }

    /// One `DeviceIoControl`; returns the byte count. On an overlapped handle it waits for the
    /// completion (which a pending `READ_LOG` may delay until data arrives or `cancel`).
    pub fn ioctl(&self, code: u32, input: &[u8], output: &mut [u8]) -> Result<usize, windows::core::Error> {
        let input_len = u32::try_from(input.len()).unwrap_or(u32::MAX);
        let output_len = u32::try_from(output.len()).unwrap_or(u32::MAX);
        let input_ptr = (!input.is_empty()).then(|| input.as_ptr().cast::<core::ffi::c_void>());
        let output_ptr = (!output.is_empty()).then(|| output.as_mut_ptr().cast::<core::ffi::c_void>());
        if self.overlapped {
            return self.overlapped_call(|ov| {
                // SAFETY: both buffers and `ov` stay alive until the call has completed
                // (overlapped_call waits before returning, also after a cancel).
                unsafe {
                    DeviceIoControl(self.handle, code, input_ptr, input_len, output_ptr, output_len, None, Some(ov))
                }
            });
        }
        let mut returned: u32 = 0;
        // SAFETY: both buffers and `returned` outlive this synchronous call; lengths match them.
        unsafe {
            DeviceIoControl(self.handle, code, input_ptr, input_len, output_ptr, output_len, Some(&mut returned), None)
        }?;
        Ok(usize::try_from(returned).unwrap_or(usize::MAX))
    }

    /// Starts an overlapped operation with its own event and waits for its completion.
    fn overlapped_call(
        &self,
        start: impl FnOnce(*mut OVERLAPPED) -> Result<(), windows::core::Error>,
    ) -> Result<usize, windows::core::Error> {
        // SAFETY: a manual-reset, unnamed event; closed below.
        let event = unsafe { CreateEventW(None, true, false, PCWSTR::null()) }?;
        let mut ov = OVERLAPPED { hEvent: event, ..Default::default() };
        let started = start(&mut ov);
        let result = match started {
            Err(e) if win32_code(&e) != Some(install::ERROR_IO_PENDING) => Err(e),
            started => {
                // A Ctrl+C that came after the caller's stop check but before the request pended
                // found nothing to cancel: look again now that it is pending (tail::after_issue).
                let stop = self.stop.as_ref().is_some_and(|stop| stop.load(Ordering::SeqCst));
                if after_issue(started.is_err(), stop) == AfterIssue::CancelThenWait {
                    // SAFETY: `ov` is the OVERLAPPED of the request just issued on this handle and
                    // stays alive until the wait below has seen the request complete.
                    let _ = unsafe { CancelIoEx(self.handle, Some(&raw const ov)) };
                }
                let mut transferred: u32 = 0;
                // SAFETY: `ov` is the OVERLAPPED of the operation just started on this handle;
                // waiting (bwait = true) keeps every buffer alive until the I/O is finished.
                unsafe { GetOverlappedResult(self.handle, &ov, &mut transferred, true) }
                    .map(|()| usize::try_from(transferred).unwrap_or(usize::MAX))
            }
        };
        // SAFETY: the event is ours and no longer used by any I/O (the operation has finished).
        let _ = unsafe { CloseHandle(event) };
        result
    }

    /// `IOCTL_LOGBRIDGE_GET_STATS`.
    pub fn stats(&self) -> Result<Stats, CtlError> {
        let mut output = vec![0u8; ioctl::STATS_SIZE];
        let returned = self
            .ioctl(ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], &mut output)
            .map_err(|e| self.request_error(Request::GetStats, &e))?;
        output.get(..returned).and_then(Stats::from_bytes).ok_or_else(|| CtlError::Failed(stats_mismatch(returned)))
    }

    /// `IOCTL_LOGBRIDGE_CLEAR_LOG`.
    pub fn clear(&self) -> Result<(), CtlError> {
        self.ioctl(ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, &[], &mut [])
            .map(|_| ())
            .map_err(|e| self.request_error(Request::ClearLog, &e))
    }

    /// The error for `request` failing with `e`, in LogBridge's words (`driver_status`): for a
    /// write refused as too large, the driver's limits are read (`GET_STATS`) to say which one.
    pub fn request_error(&self, request: Request, e: &windows::core::Error) -> CtlError {
        let code = win32_code(e);
        let limits = if driver_status::needs_limits(request, code) {
            self.stats().ok().map(|stats| WriteLimits::from(&stats))
        } else {
            None
        };
        driver_status::request_error(request, &self.path, code, &e.message(), limits)
    }
}

fn stats_mismatch(returned: usize) -> String {
    format!(
        "GET_STATS returned {returned} bytes that are not version {} statistics ({} bytes): \
         the driver and logbridge-ctl come from different builds",
        ioctl::CONTRACT_VERSION,
        ioctl::STATS_SIZE
    )
}

/// The handle a Ctrl+C handler cancels (0: none).
static CANCEL_TARGET: AtomicIsize = AtomicIsize::new(0);

/// Makes Ctrl+C set `stop` and then cancel the I/O pending on `device` (`CancelIoEx`): the waiting
/// call returns `ERROR_OPERATION_ABORTED` and the command ends cleanly. The device checks `stop`
/// again after each overlapped request pends, for a Ctrl+C that came just before it.
pub fn cancel_on_ctrl_c(device: &mut Device, stop: Arc<AtomicBool>) -> Result<(), CtlError> {
    device.stop = Some(Arc::clone(&stop));
    CANCEL_TARGET.store(device.raw(), Ordering::SeqCst);
    ctrlc::set_handler(move || {
        stop.store(true, Ordering::SeqCst);
        let raw = CANCEL_TARGET.load(Ordering::SeqCst);
        if raw != 0 {
            // SAFETY: `raw` is the handle of a Device that is still open: the command clears
            // CANCEL_TARGET before the Device is dropped. CancelIoEx only requests cancellation.
            let _ = unsafe { CancelIoEx(HANDLE(raw as *mut core::ffi::c_void), None) };
        }
    })
    .map_err(|e| CtlError::Failed(format!("cannot install the Ctrl+C handler: {e}")))
}

/// Stops Ctrl+C from touching the handle (before the Device is dropped).
pub fn forget_ctrl_c_target() {
    CANCEL_TARGET.store(0, Ordering::SeqCst);
}
