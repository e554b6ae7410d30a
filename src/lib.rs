//! The LogBridge KMDF driver.
//!
//! Everything the driver decides (packet formats, the ring log, rate limiting, the write path, the
//! IOCTL contract, the registry parameters) lives in the portable `logbridge-core` crate and is
//! tested on any host against the checked kernel model in `logbridge-model`. This crate is the thin
//! Windows layer, built only for Windows targets (on other hosts it is empty):
//!
//! | Module | What it is |
//! |---|---|
//! | [`wrappers`] | The only code that names wdk-sys: one safe type per raw resource (nonpaged buffer, error-log entry, WMI event source, spin lock, wait lock, request, queue, registry key, device), the KMDF callbacks and `DriverEntry`. Every `unsafe` block is here, each with a `// SAFETY:` comment. |
//! | [`kernel`] | `WindowsKernel`: `logbridge_core::kernel::Kernel` over the wrappers, and the pending-read queues. |
//! | [`driver`] | What each callback does, in safe code: device add, write, device control, file create and cleanup. |
//!
//! # IRQL
//! The default queue runs its callbacks at `PASSIVE_LEVEL` (`WdfExecutionLevelPassive`), so
//! `EvtIoWrite` may call `IoWMIWriteEvent` (<= `APC_LEVEL`) directly. The ring log's WDFSPINLOCK
//! raises to `DISPATCH_LEVEL` only around the copy into the ring. Every routine the driver calls is
//! listed with its IRQL in the wrapper that owns it.
//!
//! # Three builds of one source
//! The repository is developed on Linux, where the WDK and wdk-build are unavailable. The same
//! source builds three ways: for real only on Windows, against the real windows-drivers-rs crates
//! (`cargo make`, `.github/workflows/windows.yml`); type-checked for `x86_64-pc-windows-msvc`
//! against a transcription of the wdk-sys signatures (`scripts/check-driver.sh`); and for the
//! Linux host (`crates/logbridge-driver-host`, which sets `cfg(logbridge_kmdf_model)`) against
//! the executable stand-in of that transcription, whose routines call the KMDF, I/O-manager and
//! kernel model of `logbridge-kmdf`, where the tests run it.

#![cfg_attr(any(target_os = "windows", logbridge_kmdf_model), no_std)]
#![cfg(any(target_os = "windows", logbridge_kmdf_model))]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(not(test))]
extern crate wdk_panic;

#[cfg(not(test))]
use wdk_alloc::WdkAllocator;

/// The kernel heap (`ExAllocatePool2`, nonpaged). The driver itself allocates nothing from it:
/// the device state lives in the device's WDF context and the ring in its own pool allocation.
#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: WdkAllocator = WdkAllocator;

pub mod driver;
pub mod kernel;
#[allow(unsafe_code)]
pub mod wrappers;
