//! Error-log entries: `IoAllocateErrorLogEntry`, `IoWriteErrorLogEntry`, `IoFreeErrorLogEntry`.
//!
//! The rules from the two Microsoft pages, and where they are kept:
//! * `EntrySize` is a `UCHAR` that silently truncates, and must be <= `ERROR_LOG_MAXIMUM_SIZE`:
//!   [`ErrorLogEntry::allocate`] takes the core's `EntrySize`, which exists only after that check.
//! * "A NULL return is not fatal": `allocate` returns `None`, which the core counts.
//! * "Never free an entry after writing it": [`ErrorLogEntry::write`] consumes the entry.
//! * An entry that is not written must be freed with `IoFreeErrorLogEntry`: `Drop` does that.
//! * IRQL <= DISPATCH_LEVEL for all three: the core checks `KeGetCurrentIrql` before logging.
//! * The kernel rounds the entry up to a multiple of the pointer size, and what it hands to the
//!   Event Log is that rounded size: [`ErrorLogEntry`] lends the whole rounded entry, so the core's
//!   zeroing covers the padding too (no uninitialised pool bytes reach the log's binary data). The
//!   KMDF model found the padding left uninitialised when only `EntrySize` bytes were lent.

use super::device::DeviceObject;
use core::ptr::NonNull;
use logbridge_core::errorlog::EntrySize;
use wdk_sys::ntddk::{IoAllocateErrorLogEntry, IoFreeErrorLogEntry, IoWriteErrorLogEntry};

/// An allocated, not yet written error-log entry of the device.
#[derive(Debug)]
pub struct ErrorLogEntry {
    start: NonNull<u8>,
    len: usize,
}

impl ErrorLogEntry {
    /// `IoAllocateErrorLogEntry(device, size)`.
    pub fn allocate(device: &DeviceObject, size: EntrySize) -> Option<ErrorLogEntry> {
        // SAFETY: `device` is the device's live WDM device object (an I/O object, as the routine
        // requires); `size` is within 48..=ERROR_LOG_MAXIMUM_SIZE, so the UCHAR is exact; the
        // caller is at IRQL <= DISPATCH_LEVEL (the core checks before logging).
        let raw = unsafe { IoAllocateErrorLogEntry(device.as_raw().cast(), size.as_u8()) };
        let len = size.bytes().next_multiple_of(core::mem::size_of::<usize>());
        NonNull::new(raw.cast::<u8>()).map(|start| ErrorLogEntry { start, len })
    }

    /// `IoWriteErrorLogEntry`: hands the entry to the I/O manager, which frees it.
    pub fn write(self) {
        let raw = self.start.as_ptr().cast();
        core::mem::forget(self);
        // SAFETY: `raw` is an entry from IoAllocateErrorLogEntry that was neither written nor
        // freed; `self` is forgotten, so nothing can free or touch it after this call.
        unsafe { IoWriteErrorLogEntry(raw) }
    }
}

impl AsMut<[u8]> for ErrorLogEntry {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: the entry holds `len` (EntrySize rounded up to the pointer size, as the kernel
        // allocates it) writable bytes that only this owner accesses until it is written or freed.
        // The core zeroes them before encoding.
        unsafe { core::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl Drop for ErrorLogEntry {
    fn drop(&mut self) {
        // SAFETY: an entry that reaches Drop was never written (`write` forgets it), so it is
        // still ours to free, exactly once; IRQL <= DISPATCH_LEVEL as for the allocation.
        unsafe { IoFreeErrorLogEntry(self.start.as_ptr().cast()) }
    }
}
