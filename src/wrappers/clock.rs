//! IRQL and clocks: `KeGetCurrentIrql`, `KeQuerySystemTimePrecise`, `KeQueryUnbiasedInterruptTime`
//! (all callable at any IRQL).

use logbridge_core::kernel::Irql;
use logbridge_core::time::FileTime;
use wdk_sys::LARGE_INTEGER;
use wdk_sys::ntddk::{KeGetCurrentIrql, KeQuerySystemTimePrecise, KeQueryUnbiasedInterruptTime};

/// The current IRQL.
pub fn irql() -> Irql {
    // SAFETY: KeGetCurrentIrql has no preconditions.
    unsafe { KeGetCurrentIrql() }
}

/// The system time, UTC, in 100 ns units since 1601.
pub fn system_time() -> FileTime {
    let mut now = LARGE_INTEGER { QuadPart: 0 };
    // SAFETY: `now` is a valid, writable LARGE_INTEGER; the routine only stores into it.
    unsafe { KeQuerySystemTimePrecise(&mut now) };
    // SAFETY: every bit pattern of the union is a valid i64, and QuadPart is what was written.
    let ticks = unsafe { now.QuadPart };
    FileTime(u64::try_from(ticks).unwrap_or(0))
}

/// A monotonic clock in 100 ns units that does not count sleep, for the rate limiter.
pub fn interrupt_time() -> u64 {
    // SAFETY: KeQueryUnbiasedInterruptTime has no preconditions.
    unsafe { KeQueryUnbiasedInterruptTime() }
}
