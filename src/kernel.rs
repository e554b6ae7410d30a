//! `WindowsKernel`: the core's [`Kernel`] trait over the wrappers, and the queues that hold
//! pending `READ_LOG` requests.
//!
//! # Pending reads
//! A `READ_LOG` that finds nothing new is *parked* in a manual queue and completed as soon as a
//! write appends a record (`NdisMWriteLogData`: "satisfies that request as soon as it has copied
//! the driver-supplied information into the log file"). The framework completes a parked request
//! with `STATUS_CANCELLED` if its caller cancels it; [`PendingReads::cancel_for_file`] does the
//! same when its handle is cleaned up.
//!
//! A drain ([`PendingReads::drain`]) takes every parked request out of `parked`, lets the core
//! serve it, completes those that now have data and moves the rest to `unserved`, then moves
//! them all back. A request put back into `parked` would be retrieved again at once, so the
//! drain needs a way to visit each parked request once. KMDF offers two: walking the queue with
//! `WdfIoQueueFindRequest` / `WdfIoQueueRetrieveFoundRequest`, or a second queue. The walk takes
//! a reference on each found request that must be dropped with `WdfObjectDereference`, and a
//! request cancelled between find and retrieve makes the retrieve fail with `STATUS_NOT_FOUND`,
//! so the walk must restart; the second queue needs neither, and every step is a plain retrieve
//! or forward whose failure the driver handles by completing the request. Drains are serialised
//! by a wait lock, which is what the core's
//! "no lost wake-up" rule asks for: a reader that parks calls `drain` once more afterwards, and
//! because that drain cannot overlap a writer's, it sees any record the writer appended between
//! the reader's empty read and its parking. Requests are completed while the wait lock is held;
//! it is a passive-level lock, so that is allowed (no spin lock is held while completing).

use crate::wrappers::clock;
use crate::wrappers::device::{Device, DeviceObject, FileObject};
use crate::wrappers::errorlog::ErrorLogEntry;
use crate::wrappers::pool::NonPagedBuffer;
use crate::wrappers::request::{ManualQueue, Request};
use crate::wrappers::sync::{SpinLocked, WaitLock};
use crate::wrappers::wmi::WmiEventSource;
use core::sync::atomic::Ordering;
use logbridge_core::NtStatus;
use logbridge_core::device::{LogLock, LogState};
use logbridge_core::errorlog::EntrySize;
use logbridge_core::kernel::{Completion, Irql, Kernel, PendingReadServer, ReadCompletion, WmiWriteFailure};
use logbridge_core::record::Crc32c;
use logbridge_core::time::FileTime;

/// The ring log and rate limiter under their WDFSPINLOCK.
pub type DeviceLog = SpinLocked<LogState<NonPagedBuffer>>;

impl LogLock for DeviceLog {
    type Storage = NonPagedBuffer;

    fn with_lock<R>(&self, f: impl FnOnce(&mut LogState<NonPagedBuffer>) -> R) -> R {
        self.with(f)
    }
}

/// The parked `READ_LOG` requests.
pub struct PendingReads {
    parked: ManualQueue,
    unserved: ManualQueue,
    drain_lock: WaitLock,
}

impl PendingReads {
    /// The two manual queues and the lock, as children of `device`.
    pub fn create(device: Device) -> Result<PendingReads, NtStatus> {
        Ok(PendingReads {
            parked: device.create_manual_queue()?,
            unserved: device.create_manual_queue()?,
            drain_lock: WaitLock::create(&device)?,
        })
    }

    /// Parks a read that found nothing, then drains once more (see the module documentation).
    ///
    /// A handle can be cleaned up while one of its reads is between dispatch and parking; its
    /// cleanup ([`PendingReads::cancel_for_file`]) would then find nothing to cancel, and the read
    /// would wait for the next write. So the check and the forward happen under the drain lock,
    /// which the cleanup takes too: either the read is parked first and the cleanup cancels it,
    /// or the cleanup marks the handle first and the read is cancelled here.
    pub fn park(&self, request: Request, server: &dyn PendingReadServer) {
        let parked = self.drain_lock.with(|| {
            let cleaned_up = request
                .file_object()
                .and_then(FileObject::context)
                .is_none_or(|context| context.cleaned_up.load(Ordering::Acquire));
            if cleaned_up {
                request.complete(Completion::failure(NtStatus::CANCELLED));
                return false;
            }
            match request.forward_to(&self.parked) {
                Ok(()) => true,
                Err((status, request)) => {
                    request.complete(Completion::failure(status));
                    false
                }
            }
        });
        if parked {
            self.drain(server);
        }
    }

    /// Completes every parked request that now has data.
    pub fn drain(&self, server: &dyn PendingReadServer) {
        self.drain_lock.with(|| self.rotate(|request| serve(request, server)));
    }

    /// Takes every request out of `parked` once: `visit` completes it (`None`) or gives it back to
    /// keep waiting; those are moved to `unserved`, then all back to `parked`. Called with the
    /// drain lock held.
    fn rotate(&self, mut visit: impl FnMut(Request) -> Option<Request>) {
        while let Some(request) = self.parked.retrieve_next() {
            if let Some(waiting) = visit(request) {
                put_back(waiting, &self.unserved);
            }
        }
        while let Some(request) = self.unserved.retrieve_next() {
            put_back(request, &self.parked);
        }
    }

    /// Completes the parked requests of a handle being cleaned up with `STATUS_CANCELLED`, and
    /// marks the handle so that no later read of it is parked.
    ///
    /// If `WdfIoQueueRetrieveRequestByFileObject` fails for another reason than an empty queue,
    /// every parked request is visited instead (the KMDF model's fault injection found a read
    /// left parked after its handle's cleanup when only that routine failed). A request the
    /// driver still cannot reach is cancelled by the next drain, which cancels every request of
    /// a cleaned-up handle it meets.
    pub fn cancel_for_file(&self, file: FileObject) {
        self.drain_lock.with(|| {
            if let Some(context) = file.context() {
                context.cleaned_up.store(true, Ordering::Release);
            }
            let mut retrieved_all = true;
            for queue in [&self.parked, &self.unserved] {
                loop {
                    match queue.retrieve_for_file(file) {
                        Ok(Some(request)) => request.complete(Completion::failure(NtStatus::CANCELLED)),
                        Ok(None) => break,
                        Err(_) => {
                            retrieved_all = false;
                            break;
                        }
                    }
                }
            }
            if !retrieved_all {
                self.rotate(|request| {
                    if request.file_object() == Some(file) {
                        request.complete(Completion::failure(NtStatus::CANCELLED));
                        None
                    } else {
                        Some(request)
                    }
                });
            }
        });
    }
}

/// Serves one parked request: completes it, or gives it back if it must keep waiting. A request
/// of a handle already cleaned up is cancelled.
fn serve(mut request: Request, server: &dyn PendingReadServer) -> Option<Request> {
    let Some(context) = request.file_object().and_then(FileObject::context) else {
        request.complete(Completion::failure(NtStatus::INVALID_DEVICE_STATE));
        return None;
    };
    if context.cleaned_up.load(Ordering::Acquire) {
        request.complete(Completion::failure(NtStatus::CANCELLED));
        return None;
    }
    let cursor = &context.cursor;
    let outcome = match request.output_buffer() {
        Ok(output) => server.serve_pending_read(cursor, output),
        Err(status) => ReadCompletion::Complete(Completion::failure(status)),
    };
    match outcome {
        ReadCompletion::Complete(completion) => {
            request.complete(completion);
            None
        }
        ReadCompletion::Pending => Some(request),
    }
}

/// Moves a request to `queue`; if the queue refuses it (the device is going away), completes it
/// with the refusal.
fn put_back(request: Request, queue: &ManualQueue) {
    if let Err((status, request)) = request.forward_to(queue) {
        request.complete(Completion::failure(status));
    }
}

/// The kernel routines of the write path, for one device.
pub struct WindowsKernel {
    device_object: DeviceObject,
    wmi: WmiEventSource,
    reads: PendingReads,
    crc32c: Crc32c,
}

impl WindowsKernel {
    /// The device's WMI provider and pending-read queues, and its CRC-32C engine: the processor
    /// is asked once, here at device add (CPUID on x64, ID_AA64ISAR0_EL1 on ARM64), and every
    /// write uses the answer (SSE4.2's or ARMv8's CRC32C instructions, else the table CRC).
    pub fn create(device: Device) -> Result<WindowsKernel, NtStatus> {
        let device_object = device.wdm_device_object()?;
        Ok(WindowsKernel {
            device_object,
            wmi: WmiEventSource::create(&device, device_object)?,
            reads: PendingReads::create(device)?,
            crc32c: Crc32c::detect(),
        })
    }

    /// The pending reads.
    pub fn reads(&self) -> &PendingReads {
        &self.reads
    }
}

impl Kernel for WindowsKernel {
    type ErrorLogEntry = ErrorLogEntry;
    type NonPagedBuffer = NonPagedBuffer;

    fn irql(&self) -> Irql {
        clock::irql()
    }

    fn system_time(&self) -> FileTime {
        clock::system_time()
    }

    fn interrupt_time(&self) -> u64 {
        clock::interrupt_time()
    }

    fn crc32c(&self) -> Crc32c {
        self.crc32c
    }

    fn allocate_error_log_entry(&self, size: EntrySize) -> Option<ErrorLogEntry> {
        ErrorLogEntry::allocate(&self.device_object, size)
    }

    fn write_error_log_entry(&self, entry: ErrorLogEntry) {
        entry.write();
    }

    fn allocate_nonpaged(&self, size: usize) -> Option<NonPagedBuffer> {
        NonPagedBuffer::allocate(size)
    }

    fn wmi_events_enabled(&self) -> bool {
        self.wmi.enabled()
    }

    fn wmi_provider_id(&self) -> u32 {
        self.wmi.provider_id()
    }

    fn wmi_write_event(&self, item: NonPagedBuffer) -> Result<(), WmiWriteFailure<NonPagedBuffer>> {
        self.wmi.write_event(item)
    }

    fn complete_pending_reads(&self, server: &dyn PendingReadServer) {
        self.reads.drain(server);
    }
}
