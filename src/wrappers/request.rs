//! Requests the driver owns, and the manual queues that park them.
//!
//! A [`Request`] is a WDFREQUEST that KMDF presented to the driver or that the driver retrieved
//! from a manual queue: the driver must complete it exactly once, or give it to another queue.
//! `complete` consumes it; `forward_to` consumes it on success and gives it back on failure; the
//! buffers it lends borrow it, so none can be used after completion. If a `Request` is ever
//! dropped without either, `Drop` completes it with `STATUS_INTERNAL_ERROR` rather than leave the
//! caller's I/O hanging.

use super::check;
use super::device::FileObject;
use logbridge_core::NtStatus;
use logbridge_core::ioctl::{self, IoctlBuffers};
use logbridge_core::kernel::Completion;
use wdk_sys::{PVOID, ULONG_PTR, WDF_NO_HANDLE, WDFQUEUE, WDFREQUEST, call_unsafe_wdf_function_binding};

/// An owned WDFREQUEST.
#[derive(Debug)]
pub struct Request(WDFREQUEST);

/// The buffers of a device-control request, as [`ioctl::buffers_of`] says its code uses them.
#[derive(Debug)]
pub struct IoctlData<'r> {
    /// The input (empty if the code takes none, or the caller sent none).
    pub input: &'r [u8],
    /// The output (empty if the code writes none, or the caller gave none).
    pub output: &'r mut [u8],
}

impl Request {
    /// Takes ownership of a request KMDF presented to a callback.
    ///
    /// # Safety
    /// `raw` must be a request the driver now owns (presented to an I/O callback, or retrieved
    /// from a queue), not completed or owned by anything else.
    pub(super) unsafe fn from_raw(raw: WDFREQUEST) -> Request {
        Request(raw)
    }

    fn into_raw(self) -> WDFREQUEST {
        let raw = self.0;
        core::mem::forget(self);
        raw
    }

    /// Completes the request with the core's status and byte count.
    pub fn complete(self, completion: Completion) {
        let information = ULONG_PTR::try_from(completion.information).unwrap_or(0);
        let raw = self.into_raw();
        // SAFETY: the driver owns `raw` (it is consumed here, so this is the only completion);
        // IRQL <= DISPATCH_LEVEL.
        unsafe {
            call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, raw, completion.status.0, information)
        };
    }

    /// Gives the request to `queue`. On failure the driver still owns it and gets it back.
    pub fn forward_to(self, queue: &ManualQueue) -> Result<(), (NtStatus, Request)> {
        // SAFETY: the driver owns the request and `queue` is a queue of the same device, as the
        // routine requires; on success ownership passes to the queue.
        let status = unsafe { call_unsafe_wdf_function_binding!(WdfRequestForwardToIoQueue, self.0, queue.0) };
        match check(status) {
            Ok(()) => {
                core::mem::forget(self);
                Ok(())
            }
            Err(failed) => Err((failed, self)),
        }
    }

    /// The id of the process that sent the request.
    pub fn requestor_process_id(&self) -> u32 {
        // SAFETY: a request the driver owns; IRQL <= DISPATCH_LEVEL.
        unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetRequestorProcessId, self.0) }
    }

    /// The file object (handle) the request was sent on.
    pub fn file_object(&self) -> Option<FileObject> {
        // SAFETY: a request the driver owns; IRQL <= DISPATCH_LEVEL.
        FileObject::from_raw(unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetFileObject, self.0) })
    }

    /// The payload of a write of `length` bytes. A zero-length write has no buffer (the retrieval
    /// routine fails for it), so it gets an empty slice without asking.
    pub fn write_payload(&mut self, length: usize) -> Result<&[u8], NtStatus> {
        if length == 0 {
            return Ok(&[]);
        }
        let mut buffer: PVOID = core::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: a write request the driver owns; IRQL <= DISPATCH_LEVEL; the outputs are
        // writable locals.
        check(unsafe {
            call_unsafe_wdf_function_binding!(WdfRequestRetrieveInputBuffer, self.0, length, &mut buffer, &mut size)
        })?;
        // SAFETY: on success KMDF returns the request's buffer (buffered I/O: the system's copy of
        // the caller's data, not user memory) of `size` bytes, valid until the request completes;
        // the borrow of `self` ends before `complete` can consume the request.
        Ok(unsafe { bytes(buffer, size) })
    }

    /// The buffers of a device-control request with code `code`, retrieving only those `wanted`
    /// names. Zero-length buffers are empty slices, not errors, so the core can answer
    /// `STATUS_BUFFER_TOO_SMALL` with the size it needs.
    pub fn ioctl_data(
        &mut self,
        code: u32,
        wanted: IoctlBuffers,
        input_length: usize,
        output_length: usize,
    ) -> Result<IoctlData<'_>, NtStatus> {
        // METHOD_BUFFERED shares one system buffer between input and output: lending both as
        // separate slices would alias. `buffers_of` never asks for both there; refuse if it did.
        if wanted.input && wanted.output && ioctl::method_of(code) == ioctl::METHOD_BUFFERED {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        }
        let input = if wanted.input && input_length > 0 {
            let mut buffer: PVOID = core::ptr::null_mut();
            let mut size: usize = 0;
            // SAFETY: a device-control request the driver owns; IRQL <= DISPATCH_LEVEL.
            check(unsafe {
                call_unsafe_wdf_function_binding!(WdfRequestRetrieveInputBuffer, self.0, 0, &mut buffer, &mut size)
            })?;
            // SAFETY: the request's input buffer of `size` bytes (the system buffer for the
            // METHOD_OUT_DIRECT and METHOD_BUFFERED codes we accept), valid until completion and
            // not the memory of the output slice (checked above).
            unsafe { bytes(buffer, size) }
        } else {
            &[]
        };
        let output = if wanted.output && output_length > 0 { self.output_buffer()? } else { &mut [] };
        Ok(IoctlData { input, output })
    }

    /// The whole output buffer (for a parked READ_LOG, served later).
    pub fn output_buffer(&mut self) -> Result<&mut [u8], NtStatus> {
        let mut buffer: PVOID = core::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: a device-control request the driver owns; IRQL <= DISPATCH_LEVEL. For
        // METHOD_OUT_DIRECT KMDF maps the caller's locked pages (failing if it cannot).
        check(unsafe {
            call_unsafe_wdf_function_binding!(WdfRequestRetrieveOutputBuffer, self.0, 0, &mut buffer, &mut size)
        })?;
        // SAFETY: `size` writable bytes valid until the request completes, distinct from the
        // input. For METHOD_OUT_DIRECT they are the caller's pages mapped into system space, which
        // the caller could write concurrently; the core only writes them, never reads back.
        Ok(unsafe { bytes_mut(buffer, size) })
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // SAFETY: a request that reaches Drop was neither completed nor forwarded (both forget
        // it), so the driver still owns it; completing it here is its only completion.
        unsafe { call_unsafe_wdf_function_binding!(WdfRequestComplete, self.0, NtStatus::INTERNAL_ERROR.0) };
    }
}

/// `size` bytes at `buffer` (empty for NULL).
///
/// # Safety
/// `buffer` is NULL or points to `size` initialised bytes valid and unchanged for `'a`.
unsafe fn bytes<'a>(buffer: PVOID, size: usize) -> &'a [u8] {
    if buffer.is_null() {
        return &[];
    }
    // SAFETY: the caller's guarantee.
    unsafe { core::slice::from_raw_parts(buffer.cast::<u8>(), size) }
}

/// `size` writable bytes at `buffer` (empty for NULL).
///
/// # Safety
/// `buffer` is NULL or points to `size` bytes writable for `'a` with no other Rust reference.
unsafe fn bytes_mut<'a>(buffer: PVOID, size: usize) -> &'a mut [u8] {
    if buffer.is_null() {
        return &mut [];
    }
    // SAFETY: the caller's guarantee.
    unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) }
}

/// A manual WDFQUEUE of the device.
#[derive(Debug)]
pub struct ManualQueue(WDFQUEUE);

// SAFETY: a queue is a framework object; its routines synchronise internally.
unsafe impl Send for ManualQueue {}
// SAFETY: as above.
unsafe impl Sync for ManualQueue {}

impl ManualQueue {
    pub(super) fn from_raw(raw: WDFQUEUE) -> ManualQueue {
        ManualQueue(raw)
    }

    /// The next request, now owned by the driver; `None` when the queue is empty (or stopped).
    pub fn retrieve_next(&self) -> Option<Request> {
        let mut raw: WDFREQUEST = WDF_NO_HANDLE.cast();
        // SAFETY: a live manual queue; IRQL <= DISPATCH_LEVEL; `raw` is a writable slot.
        let status = unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueRetrieveNextRequest, self.0, &mut raw) };
        if check(status).is_err() || raw.is_null() {
            return None;
        }
        // SAFETY: on success the driver owns the retrieved request.
        Some(unsafe { Request::from_raw(raw) })
    }

    /// The next request sent on `file`, now owned by the driver; `Ok(None)` when there is none
    /// (`STATUS_NO_MORE_ENTRIES`), `Err` when the retrieval failed otherwise.
    pub fn retrieve_for_file(&self, file: FileObject) -> Result<Option<Request>, NtStatus> {
        let mut raw: WDFREQUEST = WDF_NO_HANDLE.cast();
        // SAFETY: a live manual queue and file object; IRQL <= DISPATCH_LEVEL.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(WdfIoQueueRetrieveRequestByFileObject, self.0, file.as_raw(), &mut raw)
        };
        match check(status) {
            Err(NtStatus::NO_MORE_ENTRIES) => Ok(None),
            Err(failed) => Err(failed),
            Ok(()) if raw.is_null() => Ok(None),
            // SAFETY: on success the driver owns the retrieved request.
            Ok(()) => Ok(Some(unsafe { Request::from_raw(raw) })),
        }
    }
}
