//! The kernel routines the driver imports from `ntoskrnl.exe`, over the checked kernel of
//! `logbridge-model`: its rules for error-log entries (size bounds, written or freed once, the
//! packet's format), pool (leaks, double frees), WMI items (nonpaged, enabled, well formed,
//! ProviderId) and IRQL apply unchanged to the raw pointers the driver passes here.

use crate::machine::*;
use crate::rules::KmdfRule;
use logbridge_core::NtStatus;
use logbridge_core::errorlog::EntrySize;
use logbridge_core::kernel::{DISPATCH_LEVEL, Kernel};

/// `HIGH_LEVEL`: routines callable at any IRQL.
const HIGH_LEVEL: u8 = 15;
use wdk_sys::ntddk::NtoskrnlTable;
use wdk_sys::*;

const POOL_TYPE_FLAGS: u64 = POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED;

unsafe fn io_allocate_error_log_entry(io_object: PVOID, size: UCHAR) -> PVOID {
    let machine = current();
    machine.enter("IoAllocateErrorLogEntry", DISPATCH_LEVEL);
    let object = io_object as usize;
    let known =
        object == DRIVER_OBJECT_ADDRESS || machine.state().the_device().is_some_and(|d| d.device_object == object);
    if !known {
        machine.violate(
            KmdfRule::ErrorLogObject,
            format!("IoObject 0x{object:X} is neither the driver object nor its device object"),
        );
        return std::ptr::null_mut();
    }
    // Below 48 bytes the kernel returns NULL itself (EntrySize cannot even be made).
    let Some(size) = EntrySize::new(usize::from(size), usize::from(u8::MAX)) else {
        return std::ptr::null_mut();
    };
    let Some(mut entry) = machine.kernel.allocate_error_log_entry(size) else {
        return std::ptr::null_mut();
    };
    let address = entry.as_mut().as_mut_ptr();
    machine.state().entries.insert(address as usize, entry);
    address.cast()
}

unsafe fn io_write_error_log_entry(entry: PVOID) {
    let machine = current();
    machine.enter("IoWriteErrorLogEntry", DISPATCH_LEVEL);
    let found = machine.state().entries.remove(&(entry as usize));
    match found {
        Some(entry) => machine.kernel.write_error_log_entry(entry),
        None => machine.kernel.violate(
            logbridge_model::Rule::EntryWrittenTwice,
            format!(
                "IoWriteErrorLogEntry(0x{:X}): not an entry from IoAllocateErrorLogEntry, or already written or freed",
                entry as usize
            ),
        ),
    }
}

unsafe fn io_free_error_log_entry(entry: PVOID) {
    let machine = current();
    machine.enter("IoFreeErrorLogEntry", DISPATCH_LEVEL);
    let found = machine.state().entries.remove(&(entry as usize));
    match found {
        Some(entry) => drop(entry),
        None => machine.kernel.violate(
            logbridge_model::Rule::EntryFreedTwice,
            format!("IoFreeErrorLogEntry(0x{:X}): not an allocated, unwritten entry", entry as usize),
        ),
    }
}

unsafe fn io_wmi_write_event(item: PVOID) -> NTSTATUS {
    let machine = current();
    machine.enter("IoWMIWriteEvent", logbridge_core::kernel::APC_LEVEL);
    let block = machine.state().pool.remove(&(item as usize));
    let Some(block) = block else {
        machine.kernel.violate(
            logbridge_model::Rule::WmiItemNotNonPaged,
            format!("IoWMIWriteEvent(0x{:X}): not a live ExAllocatePool2 block", item as usize),
        );
        return NtStatus::INVALID_PARAMETER.0;
    };
    check_provider_id(&machine, block.buffer.as_ref());
    let tag = block.tag;
    match machine.kernel.wmi_write_event(block.buffer) {
        Ok(()) => NtStatus::SUCCESS.0,
        Err(failure) => {
            // Not WMI's: the driver must free it.
            machine.state().pool.insert(item as usize, PoolBlock { buffer: failure.item, tag });
            failure.status.0
        }
    }
}

/// The WNODE's ProviderId must be the id WMI gave the device when KMDF registered it at start.
fn check_provider_id(machine: &Machine, item: &[u8]) {
    // WNODE_HEADER: BufferSize (4 bytes), then ProviderId.
    let Some(bytes) = item.get(4..8) else { return };
    let found = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let registered = machine.state().the_device().map(|d| d.wmi_provider_id);
    if registered != Some(found) || found == 0 {
        machine.violate(
            KmdfRule::WmiProviderId,
            format!("WNODE_HEADER.ProviderId 0x{found:08X}, the device's registered id {registered:?}"),
        );
    }
}

unsafe fn io_wmi_device_object_to_provider_id(device_object: PDEVICE_OBJECT) -> ULONG {
    let machine = current();
    machine.enter("IoWMIDeviceObjectToProviderId", DISPATCH_LEVEL);
    let state = machine.state();
    // On 64-bit Windows the id comes from the device's WMI registration: 0 while it has none.
    state
        .objects
        .values()
        .find_map(|o| match &o.body {
            Body::Device(device) if device.device_object == device_object as usize => Some(device.wmi_provider_id),
            _ => None,
        })
        .unwrap_or(0)
}

unsafe fn ex_allocate_pool2(flags: POOL_FLAGS, bytes: SIZE_T, tag: ULONG) -> PVOID {
    let machine = current();
    machine.enter("ExAllocatePool2", DISPATCH_LEVEL);
    if (flags & POOL_TYPE_FLAGS).count_ones() != 1 || tag == 0 {
        machine.violate(KmdfRule::PoolFlags, format!("flags 0x{flags:X}, tag 0x{tag:08X}"));
        return std::ptr::null_mut();
    }
    let Ok(size) = usize::try_from(bytes) else { return std::ptr::null_mut() };
    let Some(mut buffer) = machine.kernel.allocate_nonpaged(size) else {
        return std::ptr::null_mut();
    };
    // ExAllocatePool2 zeroes the block unless POOL_FLAG_UNINITIALIZED is given.
    if flags & POOL_FLAG_UNINITIALIZED == 0 {
        buffer.as_mut().fill(0);
    }
    let address = buffer.as_mut().as_mut_ptr();
    machine.state().pool.insert(address as usize, PoolBlock { buffer, tag });
    address.cast()
}

unsafe fn ex_free_pool_with_tag(block: PVOID, tag: ULONG) {
    let machine = current();
    machine.enter("ExFreePoolWithTag", DISPATCH_LEVEL);
    let found = machine.state().pool.remove(&(block as usize));
    match found {
        Some(found) if found.tag == tag => drop(found),
        Some(found) => {
            machine.violate(
                KmdfRule::PoolTag,
                format!("block 0x{:X} allocated with tag 0x{:08X}, freed with 0x{tag:08X}", block as usize, found.tag),
            );
            drop(found);
        }
        None => machine.kernel.violate(
            logbridge_model::Rule::BufferFreedTwice,
            format!("ExFreePoolWithTag(0x{:X}): not a live pool block", block as usize),
        ),
    }
}

unsafe fn ke_query_system_time_precise(time: PLARGE_INTEGER) {
    let machine = current();
    machine.enter("KeQuerySystemTimePrecise", HIGH_LEVEL);
    if !time.is_null() {
        let now = machine.kernel.system_time().0;
        // SAFETY: a writable LARGE_INTEGER from the driver.
        unsafe { (*time).QuadPart = i64::try_from(now).unwrap_or(i64::MAX) };
    }
}

unsafe fn ke_get_current_irql() -> KIRQL {
    let machine = current();
    machine.enter("KeGetCurrentIrql", HIGH_LEVEL);
    logbridge_model::kernel::current_irql()
}

unsafe fn ke_query_unbiased_interrupt_time() -> ULONGLONG {
    let machine = current();
    machine.enter("KeQueryUnbiasedInterruptTime", HIGH_LEVEL);
    machine.kernel.interrupt_time()
}

unsafe fn ps_get_current_process_id() -> HANDLE {
    panic!("PsGetCurrentProcessId is not modelled: the driver does not call it")
}

unsafe fn rtl_init_unicode_string(_destination: PUNICODE_STRING, _source: PCWSTR) {
    panic!("RtlInitUnicodeString is not modelled: the driver does not call it")
}

/// The model's `ntoskrnl.exe` exports.
pub(crate) fn ntoskrnl_table() -> NtoskrnlTable {
    NtoskrnlTable {
        IoAllocateErrorLogEntry: io_allocate_error_log_entry,
        IoWriteErrorLogEntry: io_write_error_log_entry,
        IoFreeErrorLogEntry: io_free_error_log_entry,
        IoWMIWriteEvent: io_wmi_write_event,
        IoWMIDeviceObjectToProviderId: io_wmi_device_object_to_provider_id,
        ExAllocatePool2: ex_allocate_pool2,
        ExFreePoolWithTag: ex_free_pool_with_tag,
        KeQuerySystemTimePrecise: ke_query_system_time_precise,
        KeGetCurrentIrql: ke_get_current_irql,
        PsGetCurrentProcessId: ps_get_current_process_id,
        RtlInitUnicodeString: rtl_init_unicode_string,
        KeQueryUnbiasedInterruptTime: ke_query_unbiased_interrupt_time,
    }
}
