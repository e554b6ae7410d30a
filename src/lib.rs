//! The LogBridge KMDF driver.
//!
//! Everything the driver decides (packet formats, the ring log, rate limiting, the write path) lives
//! in the portable `logbridge-core` crate and is tested on any host against the checked kernel model
//! in `logbridge-model`. This crate is the thin Windows layer: `DriverEntry`, the KMDF callbacks and
//! the safe wrappers over wdk-sys that implement `logbridge_core::kernel::Kernel`. That layer is built
//! only for Windows targets (see the issue "The KMDF driver"); on other hosts this crate is empty.

#![cfg_attr(target_os = "windows", no_std)]
