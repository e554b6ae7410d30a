//! The kernel routines LogBridge's write path needs, as a trait.
//!
//! The driver implements [`Kernel`] over wdk-sys with one small safe wrapper per raw resource;
//! `logbridge-model` implements it on the host as a checked kernel that enforces each routine's
//! contract and injects faults. The write path in [`crate::device`] is written once against it.
//!
//! # Ownership rules, in the types
//! * An error-log entry from [`Kernel::allocate_error_log_entry`] is an owned value.
//!   [`Kernel::write_error_log_entry`] takes it *by value*: once written it is gone, so it cannot be
//!   freed ("never free an entry after writing it"). An entry that is dropped unwritten is freed by
//!   its `Drop` (`IoFreeErrorLogEntry`), exactly once.
//! * A WMI event item is built in a [`Kernel::NonPagedBuffer`] (nonpaged pool, as `IoWMIWriteEvent`
//!   requires). [`Kernel::wmi_write_event`] takes it by value; on success WMI owns and frees it, on
//!   failure it comes back in [`WmiWriteFailure`] and dropping it frees it: "free the WNODE yourself
//!   when IoWMIWriteEvent fails", and only then.
//! * Pending `READ_LOG` requests are completed by the kernel layer, which calls back into
//!   [`PendingReadServer`] for each; the core never holds a request.
//!
//! # IRQL
//! `IoAllocateErrorLogEntry` and `IoWriteErrorLogEntry` need IRQL <= DISPATCH_LEVEL;
//! `IoWMIWriteEvent` needs <= APC_LEVEL. The write path asks [`Kernel::irql`] and skips (and
//! counts) a call that would break its limit rather than make it.

use crate::errorlog::EntrySize;
use crate::status::NtStatus;
use crate::time::FileTime;

/// An IRQL.
pub type Irql = u8;
/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: Irql = 0;
/// `APC_LEVEL`.
pub const APC_LEVEL: Irql = 1;
/// `DISPATCH_LEVEL`.
pub const DISPATCH_LEVEL: Irql = 2;

/// `IoWMIWriteEvent` failed; the event item comes back so that the caller frees it.
#[derive(Debug)]
pub struct WmiWriteFailure<B> {
    /// What `IoWMIWriteEvent` returned: `STATUS_UNSUCCESSFUL` (WMI not available),
    /// `STATUS_BUFFER_OVERFLOW` (item larger than WMI's maximum) or `STATUS_INSUFFICIENT_RESOURCES`.
    pub status: NtStatus,
    /// The item, still owned by the driver. Dropping it frees it.
    pub item: B,
}

/// Serves a pending `READ_LOG` request when data arrives.
pub trait PendingReadServer {
    /// Tries to complete a pending read for the handle whose cursor is `cursor`, into `output`
    /// (the request's whole output buffer). [`ReadCompletion::Pending`] means: keep it queued.
    fn serve_pending_read(&self, cursor: &crate::device::CursorCell, output: &mut [u8]) -> ReadCompletion;
}

/// How a request completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The request's status.
    pub status: NtStatus,
    /// `IoStatus.Information`: bytes transferred, or the size needed with `STATUS_BUFFER_TOO_SMALL`.
    pub information: usize,
}

impl Completion {
    /// Success with `information` bytes.
    pub const fn success(information: usize) -> Completion {
        Completion { status: NtStatus::SUCCESS, information }
    }

    /// A failure with no bytes.
    pub const fn failure(status: NtStatus) -> Completion {
        Completion { status, information: 0 }
    }
}

/// What to do with a `READ_LOG` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadCompletion {
    /// Complete it now.
    Complete(Completion),
    /// Nothing to read yet: park it until a write arrives (KMDF: forward it to the manual queue).
    /// After parking, call [`Kernel::complete_pending_reads`] once more: a write that landed between
    /// the empty read and the parking drained the queue before this request was in it, and its
    /// wake-up would otherwise be lost.
    Pending,
}

/// The DDIs of the write path.
pub trait Kernel {
    /// An allocated, not yet written `IO_ERROR_LOG_PACKET` entry (`AsMut` gives its bytes).
    /// Dropping it frees it with `IoFreeErrorLogEntry`.
    type ErrorLogEntry: AsMut<[u8]>;
    /// A nonpaged pool buffer (`ExAllocatePool2(POOL_FLAG_NON_PAGED, ..)`); dropping it frees it.
    type NonPagedBuffer: AsMut<[u8]>;

    /// `KeGetCurrentIrql`.
    fn irql(&self) -> Irql;

    /// The system time (`KeQuerySystemTimePrecise`): 100 ns since 1601, UTC.
    fn system_time(&self) -> FileTime;

    /// A monotonic clock in 100 ns units, for rate limiting (the driver uses
    /// `KeQueryUnbiasedInterruptTime`; `KeQueryInterruptTime` is a macro that bindgen cannot bind).
    fn interrupt_time(&self) -> u64;

    /// The CRC-32C engine for ring records, computed before the ring lock is taken. The driver
    /// chooses it once, at device add (the processor's CRC32C instructions where it has them:
    /// SSE4.2 on x64, the CRC extension on ARM64), and keeps it in the device context. Every
    /// engine gives the same checksum. The default is the software engine.
    fn crc32c(&self) -> crate::record::Crc32c {
        crate::record::Crc32c::SOFTWARE
    }

    /// `IoAllocateErrorLogEntry(device, size)`. `None` (NULL) is normal under memory pressure and
    /// is never fatal.
    fn allocate_error_log_entry(&self, size: EntrySize) -> Option<Self::ErrorLogEntry>;

    /// `IoWriteErrorLogEntry`: queues the entry; the I/O manager frees it.
    fn write_error_log_entry(&self, entry: Self::ErrorLogEntry);

    /// `ExAllocatePool2(POOL_FLAG_NON_PAGED, size, tag)`.
    fn allocate_nonpaged(&self, size: usize) -> Option<Self::NonPagedBuffer>;

    /// `WdfWmiProviderIsEnabled(provider, WdfWmiEventControl)`: has a consumer enabled the event?
    fn wmi_events_enabled(&self) -> bool;

    /// `IoWMIDeviceObjectToProviderId(device object)`.
    fn wmi_provider_id(&self) -> u32;

    /// `IoWMIWriteEvent(item)`.
    fn wmi_write_event(&self, item: Self::NonPagedBuffer) -> Result<(), WmiWriteFailure<Self::NonPagedBuffer>>;

    /// Completes the parked `READ_LOG` requests that now have data, calling `server` for each.
    /// Called after a record was appended, with no lock held.
    ///
    /// Two drains can race (a writer's, and a reader's re-drain after parking). An implementation
    /// must not lose a wake-up when they do: a request that one drain has taken out, found nothing
    /// for and is about to put back must still see a record appended meanwhile. Either serialise
    /// the drains (serve while holding the parked queue's lock, taking the log lock inside it), or
    /// repeat the drain while the ring's head moved during it.
    fn complete_pending_reads(&self, server: &dyn PendingReadServer);
}
