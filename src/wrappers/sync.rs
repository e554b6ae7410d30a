//! Locks: a WDFSPINLOCK that owns the data it guards, and a WDFWAITLOCK.

use super::device::Device;
use super::{check, object_attributes};
use core::cell::UnsafeCell;
use logbridge_core::NtStatus;
use wdk_sys::{WDF_NO_HANDLE, WDFSPINLOCK, WDFWAITLOCK, call_unsafe_wdf_function_binding};

/// A value that is reachable only while its WDFSPINLOCK is held (at DISPATCH_LEVEL).
///
/// `WdfSpinLockAcquire` raises to DISPATCH_LEVEL and remembers the old IRQL in the lock;
/// `WdfSpinLockRelease` restores it. Code run under the lock must not block, allocate from paged
/// pool or call a routine that needs a lower IRQL; the core only copies and counts there.
pub struct SpinLocked<T> {
    lock: WDFSPINLOCK,
    value: UnsafeCell<T>,
}

// SAFETY: the value moves with the wrapper; the lock handle is a framework object usable from any
// thread.
unsafe impl<T: Send> Send for SpinLocked<T> {}
// SAFETY: `&SpinLocked<T>` only reaches `T` through `with`, which holds the spin lock, so at most
// one thread at a time has the `&mut T`.
unsafe impl<T: Send> Sync for SpinLocked<T> {}

impl<T> SpinLocked<T> {
    /// Creates the lock as a child of `device` (deleted with it) and moves `value` under it.
    pub fn create(device: &Device, value: T) -> Result<SpinLocked<T>, NtStatus> {
        let mut attributes = object_attributes();
        attributes.ParentObject = device.as_object();
        let mut lock: WDFSPINLOCK = WDF_NO_HANDLE.cast();
        // SAFETY: IRQL <= DISPATCH_LEVEL (device add runs at PASSIVE); `attributes` is
        // initialised as WDF_OBJECT_ATTRIBUTES_INIT does, and `lock` is a writable handle slot.
        check(unsafe { call_unsafe_wdf_function_binding!(WdfSpinLockCreate, &mut attributes, &mut lock) })?;
        Ok(SpinLocked { lock, value: UnsafeCell::new(value) })
    }

    /// Runs `f` with the lock held. `f` must not call `with` on the same lock (it would spin
    /// forever, never alias).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _held = SpinLockGuard::acquire(self.lock);
        // SAFETY: the spin lock is held until `_held` drops after `f` returns, and every access
        // to `value` goes through here, so this is the only reference to it.
        f(unsafe { &mut *self.value.get() })
    }
}

/// A held WDFSPINLOCK; dropping it releases the lock.
struct SpinLockGuard(WDFSPINLOCK);

impl SpinLockGuard {
    fn acquire(lock: WDFSPINLOCK) -> SpinLockGuard {
        // SAFETY: `lock` is a live spin lock (a child of the device, which outlives every caller);
        // IRQL <= DISPATCH_LEVEL; it is not already held by this thread (no nesting in `with`).
        unsafe { call_unsafe_wdf_function_binding!(WdfSpinLockAcquire, lock) };
        SpinLockGuard(lock)
    }
}

impl Drop for SpinLockGuard {
    fn drop(&mut self) {
        // SAFETY: this thread acquired the lock in `acquire` and still holds it (at DISPATCH_LEVEL).
        unsafe { call_unsafe_wdf_function_binding!(WdfSpinLockRelease, self.0) };
    }
}

/// A WDFWAITLOCK: a passive-level lock under which requests may be completed.
pub struct WaitLock(WDFWAITLOCK);

// SAFETY: a wait lock is a framework object meant to be used from any thread.
unsafe impl Send for WaitLock {}
// SAFETY: as above; acquisition and release are the framework's synchronisation.
unsafe impl Sync for WaitLock {}

impl WaitLock {
    /// Creates the lock as a child of `device`.
    pub fn create(device: &Device) -> Result<WaitLock, NtStatus> {
        let mut attributes = object_attributes();
        attributes.ParentObject = device.as_object();
        let mut lock: WDFWAITLOCK = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL (device add); valid attributes and output slot.
        check(unsafe { call_unsafe_wdf_function_binding!(WdfWaitLockCreate, &mut attributes, &mut lock) })?;
        Ok(WaitLock(lock))
    }

    /// Runs `f` holding the lock. Callers are at PASSIVE_LEVEL (the default queue's execution
    /// level and EvtFileCleanup), as waiting without a timeout requires.
    pub fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: a live lock; PASSIVE_LEVEL; a NULL timeout waits until acquired, which then
        // returns STATUS_SUCCESS (no other outcome is possible without a timeout).
        let _ = unsafe { call_unsafe_wdf_function_binding!(WdfWaitLockAcquire, self.0, core::ptr::null_mut()) };
        let result = f();
        // SAFETY: this thread acquired the lock just above.
        unsafe { call_unsafe_wdf_function_binding!(WdfWaitLockRelease, self.0) };
        result
    }
}
