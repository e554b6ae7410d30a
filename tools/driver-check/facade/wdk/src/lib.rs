//! **Type-check facade of `wdk` 0.5.0 — a transcription for type-checking on Linux, not the real
//! crate.** On Windows the driver uses the real `wdk`; this crate is only ever `cargo check`ed
//! (`scripts/check-driver.sh`), never linked or run.
//!
//! It provides the parts of `wdk` that LogBridge may use, at the real paths, with the real shapes
//! (see wdk-0.5.0/src/lib.rs and print.rs, and windows-drivers-rs.md §2): `print!`/`println!`
//! (which type-check their format arguments; the real ones format into a 512-byte stack buffer
//! and call `DbgPrint`), `nt_success` (a re-export of `wdk_sys::NT_SUCCESS`), `paged_code!` (a
//! re-export of `wdk_sys::PAGED_CODE!`) and `dbg_break()`. Not reproduced: `dbg!`, the `fmt`
//! module and the `wdf` module (`SpinLock`, `Timer`).

#![no_std]

pub use wdk_sys::NT_SUCCESS as nt_success;
pub use wdk_sys::PAGED_CODE as paged_code;

/// Prints to the kernel debugger (the real one: `DbgPrint("%s", chunk)` in 512-byte chunks).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
      ($crate::_print(format_args!($($arg)*)))
    };
}

/// Prints to the kernel debugger, with a newline.
#[macro_export]
macro_rules! println {
    () => {
      ($crate::print!("\n"))
    };

    ($($arg:tt)*) => {
      ($crate::print!("{}\n", format_args!($($arg)*)))
    };
}

/// Implementation detail of [`print!`]: here it only consumes the arguments (never runs).
#[doc(hidden)]
pub fn _print(args: core::fmt::Arguments) {
    let _ = args;
}

/// Triggers a debugger breakpoint (`int 3` on x86/x86_64, `brk #0xF000` on aarch64), as the real
/// `wdk::dbg_break`.
///
/// # Panics
///
/// Will panic if called from an unsupported architecture.
pub fn dbg_break() {
    // SAFETY: a breakpoint instruction (never executed: this crate is only type-checked).
    unsafe {
        #[cfg(target_arch = "aarch64")]
        {
            core::arch::asm!("brk #0xF000");
            return;
        }

        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            core::arch::asm!("int 3");
            return;
        }
    }

    #[allow(unreachable_code)]
    {
        panic!("dbg_break function called from unsupported architecture");
    }
}
