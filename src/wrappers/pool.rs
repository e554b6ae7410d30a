//! Nonpaged pool: `ExAllocatePool2(POOL_FLAG_NON_PAGED, ..)` and `ExFreePoolWithTag`.
//!
//! The ring log's storage and every WMI event item live in a [`NonPagedBuffer`]: both are touched
//! at DISPATCH_LEVEL (under the ring's spin lock) or handed to WMI, which requires nonpaged memory.

use core::ptr::NonNull;
use logbridge_core::identity::POOL_TAG;
use wdk_sys::ntddk::{ExAllocatePool2, ExFreePoolWithTag};
use wdk_sys::{POOL_FLAG_NON_PAGED, PVOID, SIZE_T};

/// An owned, zero-initialised block of nonpaged, non-executable pool, tagged `LgBr`.
#[derive(Debug)]
pub struct NonPagedBuffer {
    start: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer is exclusively owned memory; moving it between threads or sharing `&` to it
// is no different from a `Box<[u8]>`.
unsafe impl Send for NonPagedBuffer {}
// SAFETY: as above; `&NonPagedBuffer` only gives `&[u8]`.
unsafe impl Sync for NonPagedBuffer {}

impl NonPagedBuffer {
    /// Allocates `len` bytes (IRQL <= DISPATCH_LEVEL). `None` for zero bytes or when the pool is
    /// exhausted, which the callers count and survive.
    pub fn allocate(len: usize) -> Option<NonPagedBuffer> {
        if len == 0 {
            return None;
        }
        let bytes = SIZE_T::try_from(len).ok()?;
        // SAFETY: ExAllocatePool2 may be called at IRQL <= DISPATCH_LEVEL, which holds for every
        // caller (the ring at device add, WMI items at PASSIVE). POOL_FLAG_NON_PAGED requests
        // zeroed nonpaged NX memory; the result is NULL or a block of `bytes` bytes that we own.
        let raw = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes, POOL_TAG) };
        NonNull::new(raw.cast::<u8>()).map(|start| NonPagedBuffer { start, len })
    }

    /// The block's address, for a routine that takes ownership on success (`IoWMIWriteEvent`).
    pub(super) fn as_raw(&mut self) -> PVOID {
        self.start.as_ptr().cast()
    }
}

impl AsRef<[u8]> for NonPagedBuffer {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `start` points to `len` bytes we own (allocated zeroed, so initialised), alive
        // until Drop; the shared borrow of `self` prevents a concurrent `&mut`.
        unsafe { core::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl AsMut<[u8]> for NonPagedBuffer {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_ref`, and the exclusive borrow of `self` makes this the only access.
        unsafe { core::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl Drop for NonPagedBuffer {
    fn drop(&mut self) {
        // SAFETY: the block came from ExAllocatePool2 with POOL_TAG and has not been freed or
        // handed over (a successful IoWMIWriteEvent forgets the buffer instead of dropping it).
        // Drops happen at IRQL <= DISPATCH_LEVEL.
        unsafe { ExFreePoolWithTag(self.start.as_ptr().cast(), POOL_TAG) }
    }
}
