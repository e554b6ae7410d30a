//! Kernel routines (in the real crate: bindgen's functions from `ntifs.h`, `ntddk.h` and
//! `ntstrsafe.h`).
//!
//! Every routine is listed in wdk-sys-bindings.md unless marked. `ExAllocatePoolWithTag` and the
//! other deprecated pool allocators are absent, as wdk-build blocklists them.
//!
//! Without the `model` feature these are bare `extern "C"` declarations (the type-check facade:
//! never linked). With it, each routine is a function of the same signature that calls the
//! executable model's implementation through [`NtoskrnlTable`] (the model plays `ntoskrnl.exe`).
//! Both come from the one list below, so the signatures cannot drift apart.

use crate::*;

macro_rules! ntoskrnl_routines {
    ($($(#[$attr:meta])* fn $name:ident($($param:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)*) => {
        #[cfg(not(feature = "model"))]
        unsafe extern "C" {
            $($(#[$attr])* pub fn $name($($param: $ty),*) $(-> $ret)?;)*
        }

        $(
            $(#[$attr])*
            #[cfg(feature = "model")]
            pub unsafe extern "C" fn $name($($param: $ty),*) $(-> $ret)? {
                // SAFETY: the caller keeps the routine's contract; the model checks it.
                unsafe { (crate::model::ntoskrnl().$name)($($param),*) }
            }
        )*

        /// The kernel routines of the executable model (feature `model`), one entry per routine
        /// above with the same signature. The model fills it with [`crate::model::install`].
        #[cfg(feature = "model")]
        pub struct NtoskrnlTable {
            $(pub $name: unsafe fn($($ty),*) $(-> $ret)?,)*
        }
    };
}

ntoskrnl_routines! {
    fn IoAllocateErrorLogEntry(IoObject: PVOID, EntrySize: UCHAR) -> PVOID;
    fn IoWriteErrorLogEntry(ElEntry: PVOID);
    fn IoFreeErrorLogEntry(ElEntry: PVOID);
    #[must_use]
    fn IoWMIWriteEvent(WnodeEventItem: PVOID) -> NTSTATUS;
    fn IoWMIDeviceObjectToProviderId(DeviceObject: PDEVICE_OBJECT) -> ULONG;
    fn ExAllocatePool2(Flags: POOL_FLAGS, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;
    fn ExFreePoolWithTag(P: PVOID, Tag: ULONG);
    fn KeQuerySystemTimePrecise(CurrentTime: PLARGE_INTEGER);
    fn KeGetCurrentIrql() -> KIRQL;
    fn PsGetCurrentProcessId() -> HANDLE;
    fn RtlInitUnicodeString(DestinationString: PUNICODE_STRING, SourceString: PCWSTR);

    // not in wdk-sys-bindings.md: prototype from wdm.h
    // (`NTKERNELAPI ULONGLONG KeQueryUnbiasedInterruptTime(VOID)`)
    fn KeQueryUnbiasedInterruptTime() -> ULONGLONG;
}
