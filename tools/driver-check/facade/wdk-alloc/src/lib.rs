//! **Facade of `wdk-alloc` 0.4.2 — a transcription for Linux, not the real crate.** On Windows the
//! driver uses the real `wdk-alloc`, whose `WdkAllocator` calls
//! `ExAllocatePool2(POOL_FLAG_NON_PAGED, size, 'rust')` and `ExFreePool` (safe only at
//! IRQL <= DISPATCH_LEVEL). Type-checked by `scripts/check-driver.sh`, where its allocator never
//! runs (`alloc` returns null); with the `model` feature (the driver run on the host against the
//! KMDF model) it forwards to the host's allocator.

#![no_std]

use core::alloc::{GlobalAlloc, Layout};

/// Allocator to use with `#[global_allocator]` (here: a type-checking stand-in that never runs).
///
/// # Safety
/// The real allocator is only safe to use for allocations happening at `IRQL` <= `DISPATCH_LEVEL`.
pub struct WdkAllocator;

// SAFETY: never used at run time (this crate is only type-checked); returning null is a valid
// "allocation failed" answer and `dealloc` is only ever given null-or-our pointers.
#[cfg(not(feature = "model"))]
unsafe impl GlobalAlloc for WdkAllocator {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

/// With the `model` feature (the driver run on the host against the KMDF model) the allocator is
/// the host's: it serves the whole test process, not only the driver.
#[cfg(feature = "model")]
extern crate std;

// SAFETY: forwards to the host's system allocator, which upholds GlobalAlloc's contract.
#[cfg(feature = "model")]
unsafe impl GlobalAlloc for WdkAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}
