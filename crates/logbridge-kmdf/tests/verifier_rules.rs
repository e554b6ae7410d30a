//! The model's verifier catches what it claims to: a tiny driver written against the same wdk-sys
//! stand-in breaks one rule at a time, and each run must report that rule (and a well-behaved run
//! none).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use logbridge_kmdf::wdk_sys;
use logbridge_kmdf::wdk_sys::*;
use logbridge_kmdf::{Caller, KmdfRule, OpenPath, System, SystemOptions, Violation};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// What the test driver's EvtIoWrite does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Misdeed {
    None,
    CompleteTwice,
    InformationOnError,
    InformationTooLarge,
    KeepTheRequest,
    WrongContextType,
    FreeWithAnotherTag,
    ForwardToItsOwnQueue,
    WaitLockUnderSpinLock,
}

static MISDEED: AtomicU8 = AtomicU8::new(0);
static SERIAL: Mutex<()> = Mutex::new(());
static mut SPIN_LOCK: WDFSPINLOCK = std::ptr::null_mut();
static mut WAIT_LOCK: WDFWAITLOCK = std::ptr::null_mut();

struct TypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO);
// SAFETY: read-only statics pointing at statics.
unsafe impl Sync for TypeInfo {}
static NEVER_ATTACHED: TypeInfo = TypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO {
    Size: std::mem::size_of::<WDF_OBJECT_CONTEXT_TYPE_INFO>() as u32,
    ContextName: c"NeverAttached".as_ptr(),
    ContextSize: 8,
    UniqueType: &raw const NEVER_ATTACHED.0,
    EvtDriverGetUniqueContextType: None,
});

fn attributes() -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        Size: std::mem::size_of::<WDF_OBJECT_ATTRIBUTES>() as u32,
        ExecutionLevel: _WDF_EXECUTION_LEVEL::WdfExecutionLevelInheritFromParent,
        SynchronizationScope: _WDF_SYNCHRONIZATION_SCOPE::WdfSynchronizationScopeInheritFromParent,
        ..Default::default()
    }
}

unsafe extern "system" fn test_driver_entry(driver: PDRIVER_OBJECT, path: PCUNICODE_STRING) -> NTSTATUS {
    let mut config = WDF_DRIVER_CONFIG {
        Size: std::mem::size_of::<WDF_DRIVER_CONFIG>() as u32,
        EvtDriverDeviceAdd: Some(device_add),
        ..Default::default()
    };
    unsafe {
        wdk_sys::call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            driver,
            path,
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut config,
            std::ptr::null_mut()
        )
    }
}

unsafe extern "C" fn device_add(_driver: WDFDRIVER, mut init: PWDFDEVICE_INIT) -> NTSTATUS {
    let mut device: WDFDEVICE = std::ptr::null_mut();
    let mut device_attributes = attributes();
    let status = unsafe {
        wdk_sys::call_unsafe_wdf_function_binding!(WdfDeviceCreate, &mut init, &mut device_attributes, &mut device)
    };
    if !NT_SUCCESS(status) {
        return status;
    }
    let mut config = WDF_IO_QUEUE_CONFIG {
        Size: std::mem::size_of::<WDF_IO_QUEUE_CONFIG>() as u32,
        DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchParallel,
        PowerManaged: _WDF_TRI_STATE::WdfUseDefault,
        DefaultQueue: 1,
        EvtIoWrite: Some(io_write),
        ..Default::default()
    };
    config.Settings.Parallel.NumberOfPresentedRequests = u32::MAX;
    let mut queue_attributes = attributes();
    queue_attributes.ExecutionLevel = _WDF_EXECUTION_LEVEL::WdfExecutionLevelPassive;
    let mut queue: WDFQUEUE = std::ptr::null_mut();
    let mut lock_attributes = attributes();
    lock_attributes.ParentObject = device.cast();
    unsafe {
        let status = wdk_sys::call_unsafe_wdf_function_binding!(
            WdfIoQueueCreate,
            device,
            &mut config,
            &mut queue_attributes,
            &mut queue
        );
        if !NT_SUCCESS(status) {
            return status;
        }
        let status =
            wdk_sys::call_unsafe_wdf_function_binding!(WdfSpinLockCreate, &mut lock_attributes, &raw mut SPIN_LOCK);
        if !NT_SUCCESS(status) {
            return status;
        }
        wdk_sys::call_unsafe_wdf_function_binding!(WdfWaitLockCreate, &mut lock_attributes, &raw mut WAIT_LOCK)
    }
}

unsafe extern "C" fn io_write(queue: WDFQUEUE, request: WDFREQUEST, length: usize) {
    let length = length as u64;
    let misdeed = MISDEED.load(Ordering::SeqCst);
    unsafe {
        match misdeed {
            m if m == Misdeed::CompleteTwice as u8 => {
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length);
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length);
            }
            m if m == Misdeed::InformationOnError as u8 => {
                wdk_sys::call_unsafe_wdf_function_binding!(
                    WdfRequestCompleteWithInformation,
                    request,
                    STATUS_BUFFER_TOO_SMALL,
                    8
                );
            }
            m if m == Misdeed::InformationTooLarge as u8 => {
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length + 1);
            }
            m if m == Misdeed::KeepTheRequest as u8 => {}
            m if m == Misdeed::WrongContextType as u8 => {
                let device = wdk_sys::call_unsafe_wdf_function_binding!(WdfIoQueueGetDevice, queue);
                let context = wdk_sys::call_unsafe_wdf_function_binding!(
                    WdfObjectGetTypedContextWorker,
                    device.cast(),
                    &NEVER_ATTACHED.0
                );
                assert!(context.is_null());
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length);
            }
            m if m == Misdeed::FreeWithAnotherTag as u8 => {
                let block = wdk_sys::ntddk::ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, u32::from_le_bytes(*b"Tst1"));
                wdk_sys::ntddk::ExFreePoolWithTag(block, u32::from_le_bytes(*b"Tst2"));
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length);
            }
            m if m == Misdeed::ForwardToItsOwnQueue as u8 => {
                let status = wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestForwardToIoQueue, request, queue);
                assert!(!NT_SUCCESS(status));
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length);
            }
            m if m == Misdeed::WaitLockUnderSpinLock as u8 => {
                wdk_sys::call_unsafe_wdf_function_binding!(WdfSpinLockAcquire, SPIN_LOCK);
                let _ = wdk_sys::call_unsafe_wdf_function_binding!(WdfWaitLockAcquire, WAIT_LOCK, std::ptr::null_mut());
                wdk_sys::call_unsafe_wdf_function_binding!(WdfWaitLockRelease, WAIT_LOCK);
                wdk_sys::call_unsafe_wdf_function_binding!(WdfSpinLockRelease, SPIN_LOCK);
                wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length);
            }
            _ => wdk_sys::call_unsafe_wdf_function_binding!(WdfRequestCompleteWithInformation, request, 0, length),
        }
    }
}

/// Runs one write with `misdeed` and returns the KMDF rules the model reported.
fn rules_broken(misdeed: Misdeed) -> Vec<KmdfRule> {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    MISDEED.store(misdeed as u8, Ordering::SeqCst);
    let system = System::new(SystemOptions::default(), test_driver_entry);
    system.boot().expect("the test driver boots");
    let handle = system.open(Caller::System, OpenPath::PdoName, 1).expect("opens");
    if misdeed == Misdeed::KeepTheRequest {
        let pending = system.write_overlapped(handle, b"kept");
        assert!(!pending.is_complete());
    } else {
        system.write(handle, b"data");
    }
    system.teardown();
    let mut rules: Vec<KmdfRule> = system
        .violations()
        .into_iter()
        .filter_map(|v| match v {
            Violation::Kmdf(v) => Some(v.rule),
            Violation::Kernel(_) => None,
        })
        .collect();
    rules.dedup();
    rules
}

#[test]
fn a_well_behaved_driver_breaks_no_rule() {
    assert_eq!(rules_broken(Misdeed::None), []);
}

#[test]
fn each_misdeed_is_reported_as_its_rule() {
    for (misdeed, rule) in [
        (Misdeed::CompleteTwice, KmdfRule::RequestCompletedTwice),
        (Misdeed::InformationOnError, KmdfRule::InformationOnError),
        (Misdeed::InformationTooLarge, KmdfRule::InformationTooLarge),
        (Misdeed::KeepTheRequest, KmdfRule::RequestOutstanding),
        (Misdeed::WrongContextType, KmdfRule::ContextType),
        (Misdeed::FreeWithAnotherTag, KmdfRule::PoolTag),
        (Misdeed::ForwardToItsOwnQueue, KmdfRule::ForwardTarget),
        (Misdeed::WaitLockUnderSpinLock, KmdfRule::Irql),
    ] {
        let broken = rules_broken(misdeed);
        assert!(broken.contains(&rule), "{misdeed:?} should break {rule:?}, the model reported {broken:?}");
    }
}
