//! Kernel routines (in the real crate: bindgen's functions from `ntifs.h`, `ntddk.h` and
//! `ntstrsafe.h`). Only declarations: this facade is never linked (see the crate docs).
//!
//! Every routine is listed in wdk-sys-bindings.md unless marked. `ExAllocatePoolWithTag` and the
//! other deprecated pool allocators are absent, as wdk-build blocklists them.

use crate::*;

unsafe extern "C" {
    pub fn IoAllocateErrorLogEntry(IoObject: PVOID, EntrySize: UCHAR) -> PVOID;
    pub fn IoWriteErrorLogEntry(ElEntry: PVOID);
    pub fn IoFreeErrorLogEntry(ElEntry: PVOID);
    #[must_use]
    pub fn IoWMIWriteEvent(WnodeEventItem: PVOID) -> NTSTATUS;
    pub fn IoWMIDeviceObjectToProviderId(DeviceObject: PDEVICE_OBJECT) -> ULONG;
    pub fn ExAllocatePool2(Flags: POOL_FLAGS, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;
    pub fn ExFreePoolWithTag(P: PVOID, Tag: ULONG);
    pub fn KeQuerySystemTimePrecise(CurrentTime: PLARGE_INTEGER);
    pub fn KeGetCurrentIrql() -> KIRQL;
    pub fn PsGetCurrentProcessId() -> HANDLE;
    pub fn RtlInitUnicodeString(DestinationString: PUNICODE_STRING, SourceString: PCWSTR);

    // not in wdk-sys-bindings.md: prototype from wdm.h
    // (`NTKERNELAPI ULONGLONG KeQueryUnbiasedInterruptTime(VOID)`)
    pub fn KeQueryUnbiasedInterruptTime() -> ULONGLONG;
}
