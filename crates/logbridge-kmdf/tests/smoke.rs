//! The driver's own code, loaded into the model: the simplest whole life.

use logbridge_core::ioctl;
use logbridge_kmdf::{Caller, OpenPath, System, SystemOptions};

#[test]
fn boot_write_read_teardown() {
    let system =
        System::new(SystemOptions { wmi_subscribed: true, ..Default::default() }, logbridge_kmdf::driver_entry!());
    system.boot().expect("boots");
    let handle = system.open(Caller::Administrator, OpenPath::Interface, 4242).expect("opens");
    let written = system.write(handle, b"hello");
    assert!(written.view.succeeded, "{written:?}");
    let read = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096);
    println!("{read:?}");
    system.teardown();
    println!("{:?}", system.routine_calls());
    system.assert_clean();
}
