//! The bad-input table: every malformed request the driver can receive, and the status it gets.
//!
//! Each row runs twice: against a fresh model device of the core (the write path on the checked
//! kernel), and through the driver's own code (`src/`) on the KMDF and I/O-manager model, from
//! `CreateFile` to what the Win32 caller gets back (the "Win32 caller sees" column). The same rows,
//! rendered as Markdown, must appear in `docs/RELIABILITY.md` between the `bad-input-table`
//! markers, so the documented table cannot drift from what the driver does.
//! `LOGBRIDGE_BLESS=1 cargo test --test bad_input` rewrites it.

// Test code may panic, index and cast freely.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

use logbridge_core::NtStatus;
use logbridge_core::device::{Config, read_request};
use logbridge_core::ioctl::{
    self, FILE_ANY_ACCESS, FILE_DEVICE_UNKNOWN, FILE_READ_ACCESS, FILE_WRITE_ACCESS, METHOD_BUFFERED, ReadLogResponse,
};
use logbridge_core::ring::ReadCursor;
use logbridge_kmdf::{Caller, Handle, OpenPath, RegistryEdit, RegistryValue, System, SystemOptions};
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{DeviceOptions, IoResult, ModelDevice, ModelKernel};
use zerocopy::{FromBytes, IntoBytes};

const RW: u32 = FILE_READ_ACCESS | FILE_WRITE_ACCESS;
const RING: usize = 64 * 1024;
const MAX_WRITE: usize = 16 * 1024;

/// What a row sends.
enum Request {
    Write { access: u32, len: usize },
    Ioctl { access: u32, code: u32, input: Vec<u8>, output: usize },
}

struct Row {
    request: &'static str,
    send: Request,
    /// A record of this size is written first (through another handle), if any.
    prefill: Option<usize>,
    status: NtStatus,
    /// The request's information (bytes; 0 for every failure).
    information: Option<usize>,
    /// The `required_size` the READ_LOG response header in the caller's pages says.
    required_size: Option<usize>,
    note: &'static str,
}

fn request_bytes(mode: u32, flags: u32, position: u64, sequence: u64) -> Vec<u8> {
    read_request(mode, flags, ReadCursor { position, sequence }).as_bytes().to_vec()
}

fn with_field(mut bytes: Vec<u8>, offset: usize, value: u32) -> Vec<u8> {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    bytes
}

fn forged_header_payload() -> Vec<u8> {
    let mut payload = b"LBR1".to_vec();
    payload.extend_from_slice(&0u32.to_le_bytes()); // a zero-length "record" that ends exactly at the head
    payload.extend_from_slice(&0u64.to_le_bytes());
    payload.extend_from_slice(&[0; 16]);
    payload
}

fn rows() -> Vec<Row> {
    let read_log = ioctl::IOCTL_LOGBRIDGE_READ_LOG;
    let dont_wait = ioctl::READ_FLAG_DONT_WAIT;
    let valid = request_bytes(ioctl::READ_MODE_OLDEST, dont_wait, 0, 0);
    let ioctl = |code, input: Vec<u8>, output| Request::Ioctl { access: RW, code, input, output };
    vec![
        Row {
            request: "unknown IOCTL code (CTL_CODE(FILE_DEVICE_UNKNOWN, 0x8FF, METHOD_BUFFERED, FILE_ANY_ACCESS))",
            send: ioctl(ioctl::ctl_code(FILE_DEVICE_UNKNOWN, 0x8FF, METHOD_BUFFERED, FILE_ANY_ACCESS), vec![], 64),
            prefill: None,
            status: NtStatus::INVALID_DEVICE_REQUEST,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, output buffer of 0 bytes",
            send: ioctl(read_log, valid.clone(), 0),
            prefill: None,
            status: NtStatus::BUFFER_TOO_SMALL,
            information: Some(0),
            required_size: None,
            note: "the response header alone is 64 bytes",
        },
        Row {
            request: "READ_LOG, output buffer of 63 bytes",
            send: ioctl(read_log, valid.clone(), 63),
            prefill: None,
            status: NtStatus::BUFFER_TOO_SMALL,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, output holds the header but not the next record (1000-byte record, 512-byte buffer)",
            send: ioctl(read_log, valid.clone(), 512),
            prefill: Some(1000),
            status: NtStatus::BUFFER_TOO_SMALL,
            information: Some(0),
            required_size: Some(64 + 1032),
            note: "the response header in the caller's pages (METHOD_OUT_DIRECT) says RequiredSize 1096; the cursor does not move",
        },
        Row {
            request: "READ_LOG, input of 16 bytes (shorter than ReadLogRequest)",
            send: ioctl(read_log, valid[..16].to_vec(), 4096),
            prefill: None,
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, input of 40 bytes (longer than ReadLogRequest)",
            send: ioctl(read_log, [valid.clone(), vec![0; 8]].concat(), 4096),
            prefill: None,
            status: NtStatus::REVISION_MISMATCH,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, Size field 24",
            send: ioctl(read_log, with_field(valid.clone(), 0, 24), 4096),
            prefill: None,
            status: NtStatus::REVISION_MISMATCH,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, Version 2",
            send: ioctl(read_log, with_field(valid.clone(), 4, 2), 4096),
            prefill: None,
            status: NtStatus::REVISION_MISMATCH,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, unknown mode 7",
            send: ioctl(read_log, with_field(valid.clone(), 8, 7), 4096),
            prefill: None,
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, unknown flag bit 0x80",
            send: ioctl(read_log, with_field(valid.clone(), 12, 0x81), 4096),
            prefill: None,
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, cursor from the future (position beyond the head)",
            send: ioctl(read_log, request_bytes(ioctl::READ_MODE_POSITION, dont_wait, 1 << 20, 5), 4096),
            prefill: Some(10),
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, misaligned position (12)",
            send: ioctl(read_log, request_bytes(ioctl::READ_MODE_POSITION, dont_wait, 12, 0), 4096),
            prefill: Some(10),
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG, position of a record header forged inside a payload",
            send: ioctl(read_log, request_bytes(ioctl::READ_MODE_POSITION, dont_wait, 32, 0), 4096),
            prefill: Some(usize::MAX), // the forged payload
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "checked by walking the record chain from the tail",
        },
        Row {
            request: "READ_LOG, right position but wrong sequence number",
            send: ioctl(read_log, request_bytes(ioctl::READ_MODE_POSITION, dont_wait, 0, 9), 4096),
            prefill: Some(10),
            status: NtStatus::INVALID_PARAMETER,
            information: Some(0),
            required_size: None,
            note: "",
        },
        Row {
            request: "READ_LOG on an empty log, DontWait flag",
            send: ioctl(read_log, valid.clone(), 4096),
            prefill: None,
            status: NtStatus::SUCCESS,
            information: Some(ioctl::READ_LOG_RESPONSE_SIZE),
            required_size: None,
            note: "zero records",
        },
        Row {
            request: "READ_LOG on an empty log, no input",
            send: ioctl(read_log, vec![], 4096),
            prefill: None,
            status: NtStatus::PENDING,
            information: None,
            required_size: None,
            note: "parked until a write arrives, cancelled on CancelIoEx or handle close",
        },
        Row {
            request: "READ_LOG through a write-only handle",
            send: Request::Ioctl { access: FILE_WRITE_ACCESS, code: read_log, input: vec![], output: 4096 },
            prefill: None,
            status: NtStatus::ACCESS_DENIED,
            information: Some(0),
            required_size: None,
            note: "refused by the I/O manager (FILE_READ_ACCESS in the code)",
        },
        Row {
            request: "GET_STATS, output buffer of 8 bytes",
            send: ioctl(ioctl::IOCTL_LOGBRIDGE_GET_STATS, vec![], 8),
            prefill: None,
            status: NtStatus::BUFFER_TOO_SMALL,
            information: Some(0),
            required_size: None,
            note: "the statistics struct's size is documented (`STATS_SIZE`)",
        },
        Row {
            request: "GET_STATS with input bytes",
            send: ioctl(ioctl::IOCTL_LOGBRIDGE_GET_STATS, vec![1, 2, 3], 4096),
            prefill: None,
            status: NtStatus::SUCCESS,
            information: Some(ioctl::STATS_SIZE),
            required_size: None,
            note: "input is ignored",
        },
        Row {
            request: "CLEAR_LOG through a read-only handle",
            send: Request::Ioctl {
                access: FILE_READ_ACCESS,
                code: ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG,
                input: vec![],
                output: 0,
            },
            prefill: Some(10),
            status: NtStatus::ACCESS_DENIED,
            information: Some(0),
            required_size: None,
            note: "refused by the I/O manager (FILE_WRITE_ACCESS in the code); the log is unchanged",
        },
        Row {
            request: "write larger than the ring (64 KiB ring, 65,505 bytes)",
            send: Request::Write { access: RW, len: RING - 31 },
            prefill: Some(10),
            status: NtStatus::INVALID_BUFFER_SIZE,
            information: Some(0),
            required_size: None,
            note: "NdisMWriteLogData's NDIS_STATUS_BUFFER_OVERFLOW rule, completed with an NT_ERROR status; nothing logged anywhere, the ring unchanged",
        },
        Row {
            request: "write above MaxWriteSize (16 KiB + 1)",
            send: Request::Write { access: RW, len: MAX_WRITE + 1 },
            prefill: Some(10),
            status: NtStatus::INVALID_BUFFER_SIZE,
            information: Some(0),
            required_size: None,
            note: "nothing logged anywhere, the ring unchanged",
        },
        Row {
            request: "write of exactly MaxWriteSize",
            send: Request::Write { access: RW, len: MAX_WRITE },
            prefill: None,
            status: NtStatus::SUCCESS,
            information: Some(MAX_WRITE),
            required_size: None,
            note: "",
        },
        Row {
            request: "zero-length write",
            send: Request::Write { access: RW, len: 0 },
            prefill: None,
            status: NtStatus::SUCCESS,
            information: Some(0),
            required_size: None,
            note: "an empty record, an Event Log entry previewing `(empty)`, a WMI event",
        },
        Row {
            request: "write through a read-only handle",
            send: Request::Write { access: FILE_READ_ACCESS, len: 10 },
            prefill: None,
            status: NtStatus::ACCESS_DENIED,
            information: Some(0),
            required_size: None,
            note: "refused by the I/O manager",
        },
    ]
}

fn device() -> ModelDevice {
    let config = Config { max_write_size: MAX_WRITE, ..Config::default() };
    ModelDevice::create(
        ModelKernel::new(KernelOptions::default()),
        DeviceOptions { ring_size: RING, config, ..DeviceOptions::default() },
    )
    .unwrap()
}

fn ring_snapshot(device: &ModelDevice) -> (u64, u64, u64) {
    let stats = device.bridge().stats();
    (stats.ring_head, stats.ring_tail, stats.next_sequence)
}

#[test]
fn every_malformed_request_gets_its_documented_status() {
    for row in rows() {
        let device = device();
        let writer = device.open(RW);
        match row.prefill {
            Some(usize::MAX) => assert!(device.write(writer, &forged_header_payload(), 1).status.is_success()),
            Some(len) => assert!(device.write(writer, &vec![b'p'; len], 1).status.is_success()),
            None => {}
        }
        let before = ring_snapshot(&device);
        let (status, information, output) = match &row.send {
            Request::Write { access, len } => {
                let handle = device.open(*access);
                let done = device.write(handle, &vec![b'w'; *len], 2);
                (done.status, Some(done.information), Vec::new())
            }
            Request::Ioctl { access, code, input, output } => {
                let handle = device.open(*access);
                match device.device_control(handle, *code, input, *output) {
                    IoResult::Completed(done) => (done.status, Some(done.information), done.output),
                    IoResult::Pending(_) => (NtStatus::PENDING, None, Vec::new()),
                }
            }
        };
        assert_eq!(status, row.status, "{}", row.request);
        assert_eq!(information, row.information, "{}", row.request);
        if !status.is_success() {
            assert_eq!(ring_snapshot(&device), before, "{}: a refused request changed the ring", row.request);
        }
        if let Some(required) = row.required_size {
            let header = ReadLogResponse::read_from_prefix(&output).unwrap().0;
            assert_eq!(header.required_size.get() as usize, required, "{}", row.request);
        }
        let kernel = device.teardown();
        kernel.assert_clean();
    }
}

// ---- The same rows through the driver's own code and the I/O manager ----------------------

const PROCESS: u32 = 77;

fn kmdf_system() -> System {
    let options = SystemOptions {
        registry: vec![
            RegistryEdit::SetOverride("RingLogSize".into(), RegistryValue::Dword(RING as u32)),
            RegistryEdit::SetOverride("MaxWriteSize".into(), RegistryValue::Dword(MAX_WRITE as u32)),
        ],
        ..SystemOptions::default()
    };
    let system = System::new(options, logbridge_kmdf::driver_entry!());
    system.boot().unwrap();
    system
}

fn kmdf_ring_snapshot(system: &System, handle: Handle) -> (u64, u64, u64) {
    let done = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], ioctl::STATS_SIZE);
    let stats = ioctl::Stats::from_bytes(&done.output).unwrap();
    (stats.ring_head, stats.ring_tail, stats.next_sequence)
}

/// What the Win32 caller gets back for `row` through the driver's own code.
fn through_the_driver(row: &Row) -> String {
    let system = kmdf_system();
    let writer = system.open(Caller::Administrator, OpenPath::Interface, PROCESS).unwrap();
    match row.prefill {
        Some(usize::MAX) => assert!(system.write(writer, &forged_header_payload()).view.succeeded),
        Some(len) => assert!(system.write(writer, &vec![b'p'; len]).view.succeeded),
        None => {}
    }
    let before = kmdf_ring_snapshot(&system, writer);
    let access = match &row.send {
        Request::Write { access, .. } | Request::Ioctl { access, .. } => *access,
    };
    let handle = system.open_with_access(Caller::Administrator, OpenPath::Interface, PROCESS, access).unwrap();
    let (outcome, call) = match &row.send {
        Request::Write { len, .. } => (Some(system.write(handle, &vec![b'w'; *len])), "WriteFile"),
        Request::Ioctl { code, input, output, .. } => {
            let pending = system.device_io_control_overlapped(handle, *code, input, *output);
            if pending.is_complete() {
                (pending.wait(std::time::Duration::from_secs(5)), "DeviceIoControl")
            } else {
                (None, "DeviceIoControl")
            }
        }
    };
    let seen = match &outcome {
        None => {
            assert_eq!(row.status, NtStatus::PENDING, "{}", row.request);
            format!("{call} FALSE, `ERROR_IO_PENDING` (overlapped)")
        }
        Some(done) => {
            assert_eq!(done.status, row.status, "{} (through src/)", row.request);
            assert_eq!(Some(done.information as usize), row.information, "{} (through src/)", row.request);
            if let Some(required) = row.required_size {
                let header = ReadLogResponse::read_from_prefix(&done.output).unwrap().0;
                assert_eq!(header.required_size.get() as usize, required, "{} (through src/)", row.request);
            }
            if done.view.succeeded {
                format!("{call} TRUE, {} bytes", done.view.bytes)
            } else {
                format!("{call} FALSE, `{}`, {} bytes", done.error_name(), done.view.bytes)
            }
        }
    };
    if !row.status.is_success() && row.status != NtStatus::PENDING {
        assert_eq!(kmdf_ring_snapshot(&system, writer), before, "{}: a refused request changed the ring", row.request);
    }
    system.teardown();
    system.assert_clean();
    seen
}

#[test]
fn every_malformed_request_gets_its_documented_status_through_the_drivers_own_code() {
    for row in rows() {
        through_the_driver(&row);
    }
}

fn markdown_table() -> String {
    let mut table =
        String::from("| Request | Status | Information | Win32 caller sees | Notes |\n|---|---|---|---|---|\n");
    for row in rows() {
        let info = row.information.map_or("—".to_owned(), |n| n.to_string());
        let seen = through_the_driver(&row);
        table.push_str(&format!("| {} | `{}` | {} | {} | {} |\n", row.request, row.status, info, seen, row.note));
    }
    table
}

#[test]
fn the_documented_table_matches_the_driver() {
    const BEGIN: &str = "<!-- bad-input-table:begin (generated by tests/bad_input.rs) -->\n";
    const END: &str = "<!-- bad-input-table:end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/RELIABILITY.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let (start, end) = (doc.find(BEGIN).expect("begin marker") + BEGIN.len(), doc.find(END).expect("end marker"));
    let expected = markdown_table();
    if doc[start..end] != expected {
        if std::env::var_os("LOGBRIDGE_BLESS").is_some() {
            std::fs::write(path, format!("{}{}{}", &doc[..start], expected, &doc[end..])).unwrap();
        } else {
            panic!(
                "docs/RELIABILITY.md's bad-input table is out of date; run LOGBRIDGE_BLESS=1 cargo test --test bad_input\n{expected}"
            );
        }
    }
}
