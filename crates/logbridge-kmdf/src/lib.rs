//! # logbridge-kmdf: KMDF, the I/O manager and the kernel, executable, with verifier rules
//!
//! The LogBridge driver's own source (`src/` of the root package) is compiled for the host by
//! `logbridge-driver-host`, against the `model` feature of the wdk-sys facade: every routine the
//! driver reaches through `call_unsafe_wdf_function_binding!` and every `wdk_sys::ntddk` routine
//! calls into this crate, through the same function tables (`WdfFunctionTable`, `NtoskrnlTable`)
//! whose signatures the driver is type-checked against. This crate plays the parts of Windows the
//! driver talks to:
//!
//! | Part | Module | What it does and checks |
//! |---|---|---|
//! | KMDF | [`framework`], [`machine`] | one object table (`FxObject`), typed zeroed contexts, attributes validated as `FxValidateObjectAttributes` does, WDFDEVICE_INIT consumed by `WdfDeviceCreate`, queues (parallel default queue at PASSIVE_LEVEL, manual queues, power-managed holding), request ownership and retrieval, forwarding rules, spin locks (raise to DISPATCH, owner-only release) and wait locks (PASSIVE only), WMI provider and instance, registry keys, cleanup/destroy order |
//! | the kernel | [`ntoskrnl`] | `IoAllocateErrorLogEntry`, `IoWriteErrorLogEntry`, `IoFreeErrorLogEntry`, `IoWMIWriteEvent`, `IoWMIDeviceObjectToProviderId`, `ExAllocatePool2`, `ExFreePoolWithTag`, the clocks and IRQL, over the checked kernel of `logbridge-model` |
//! | the I/O manager | [`io_manager`], [`security`], [`win32`] | `CreateFile` (access checked on every name the device can be opened by), `WriteFile`, `DeviceIoControl` (synchronous and overlapped), `CancelIoEx`, `CloseHandle` (cleanup, then close when the last request is done), and what the caller gets back: the Win32 error and which bytes are copied |
//! | PnP | [`lifecycle`] | DriverEntry → EvtDriverDeviceAdd → start (WMI registration, interfaces) → remove (queues purged) → unload (leaks) |
//! | the package | [`inf`] | the INF's device security, characteristics and registry defaults |
//!
//! Every rule is a [`rules::KmdfRule`] that names its source (a Microsoft page or a KMDF source
//! file); kernel rules are `logbridge_model::Rule`s. [`System::assert_clean`] fails on any.
//!
//! ```ignore
//! let system = System::new(SystemOptions::default(), logbridge_kmdf::driver_entry!());
//! system.boot()?;
//! let handle = system.open(Caller::Administrator, OpenPath::Interface, 4242)?;
//! system.write(handle, b"hello");
//! system.teardown();
//! system.assert_clean();
//! ```

pub mod framework;
pub mod inf;
pub mod io_manager;
pub mod lifecycle;
pub mod machine;
pub mod ntoskrnl;
pub mod rules;
pub mod security;
pub mod simulation;
pub mod system;
pub mod win32;

pub use machine::{DriverEntryFn, RegistryValue};
pub use rules::{KmdfRule, KmdfViolation, Violation};
pub use security::{Caller, OpenPath};
pub use system::{Handle, IoOutcome, PendingIo, RegistryEdit, System, SystemOptions};
pub use wdk_sys;

/// The entry point of the driver linked into this program (`logbridge-driver-host`), found by its
/// exported symbol `DriverEntry`, as the loader finds it. The calling crate depends on
/// `logbridge-driver-host`.
#[macro_export]
macro_rules! driver_entry {
    () => {{
        use logbridge_driver as _;
        unsafe extern "system" {
            fn DriverEntry(
                driver: $crate::wdk_sys::PDRIVER_OBJECT,
                registry_path: $crate::wdk_sys::PCUNICODE_STRING,
            ) -> $crate::wdk_sys::NTSTATUS;
        }
        DriverEntry as $crate::DriverEntryFn
    }};
}
