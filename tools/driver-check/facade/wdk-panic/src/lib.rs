//! **Type-check facade of `wdk-panic` 0.5.0 — a transcription for type-checking on Linux, not the
//! real crate.** The real one provides the kernel `#[panic_handler]` (a debugger break under debug
//! assertions, then `KeBugCheckEx(0x52504E43 "RPNC", file, len, line, column)`) when linked with
//! `extern crate wdk_panic;`. Type-checked by `scripts/check-driver.sh`, where its handler (which the
//! driver needs to type-check as a `no_std` cdylib) never runs; with the `model` feature (the
//! driver run on the host) there is no handler: the host's standard library handles panics.

#![no_std]

// With the `model` feature (the driver run on the host) the host's standard library handles panics.
#[cfg(not(any(test, feature = "model")))]
mod kernel_panic_handler {
    use core::panic::PanicInfo;

    #[cfg(debug_assertions)]
    use wdk::dbg_break;

    #[cold]
    #[panic_handler]
    fn panic(_info: &PanicInfo) -> ! {
        #[cfg(debug_assertions)]
        dbg_break();
        loop {}
    }
}
