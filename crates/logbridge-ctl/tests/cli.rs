//! End-to-end tests of the `logbridge-ctl` binary: fixtures are built with logbridge-core's own
//! encoders, the binary decodes them, and every key of its JSON output is checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use assert_cmd::Command;
use logbridge_core::NtStatus;
use logbridge_core::errorlog::{self, WriteFacts};
use logbridge_core::guid::GUID_LOGBRIDGE_WRITE_EVENT;
use logbridge_core::record::PreparedRecord;
use logbridge_core::time::FileTime;
use logbridge_core::wmi;
use predicates::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn ctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logbridge-ctl"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the binary, expects status 0 and an empty stderr, and parses every stdout line as JSON.
fn json_lines(args: &[&str]) -> Vec<Value> {
    let output = ctl().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{args:?}: stderr {stderr}");
    assert!(stderr.is_empty(), "{args:?}: stderr {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.ends_with('\n'), "{stdout:?}");
    stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Like [`json_lines`] for a command that prints exactly one object.
fn json_object(args: &[&str]) -> Value {
    let mut lines = json_lines(args);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.remove(0)
}

/// Runs the binary and expects `status`, no stdout, and one `logbridge-ctl: ...` line on stderr
/// containing `fragment`.
fn fails_with(args: &[&str], status: i32, fragment: &str) {
    let output = ctl().args(args).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(status), "{args:?}: stderr {stderr}");
    assert!(output.stdout.is_empty(), "{args:?}: stdout {:?}", String::from_utf8_lossy(&output.stdout));
    assert!(stderr.starts_with("logbridge-ctl: "), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(fragment), "{args:?}: {stderr:?} lacks {fragment:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The packet the driver writes for one write, with the fields the driver leaves zero
/// (RetryCount, EventCategory, IoControlCode, DeviceOffset) set so that each key is distinct.
fn packet_fixture() -> Vec<u8> {
    let facts = WriteFacts {
        sequence: 0x1_0000_0007,
        process_id: 4242,
        payload: b"hello",
        final_status: NtStatus::BUFFER_OVERFLOW,
    };
    let strings = errorlog::write_packet_strings(&facts);
    let spec = errorlog::write_packet_spec(&facts, &strings, 240);
    let plan = errorlog::plan_packet(&spec, 240).unwrap();
    let mut entry = vec![0xAA; plan.entry_size.bytes()];
    errorlog::encode_packet(&mut entry, &spec, &plan).unwrap();
    entry[1] = 3;
    entry[8..10].copy_from_slice(&0x0102u16.to_le_bytes());
    entry[28..32].copy_from_slice(&0x0022_6002u32.to_le_bytes());
    entry[32..40].copy_from_slice(&(-2i64).to_le_bytes());
    entry
}

fn packet_fields() -> Value {
    json!({
        "major_function": 4,
        "retry_count": 3,
        "dump_data_size": 8,
        "number_of_strings": 4,
        "string_offset": 56,
        "event_category": 0x0102,
        "error_code": 0x6004_0001_u32,
        "unique_error_value": 4242,
        "final_status": 0x8000_0005_u32,
        "sequence_number": 7,
        "io_control_code": 0x0022_6002,
        "device_offset": -2,
        "dump_data": "68656c6c6f000000",
    })
}

fn expected_packet() -> Value {
    let mut value = packet_fields();
    value["strings"] = json!(["4294967303", "5", "4242", "hello"]);
    value
}

fn wnode_fixture(payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0xEE; 1100];
    let size = wmi::encode_write_event(&mut buf, 0x1234, FileTime(133_444_736_000_000_000), 9, 4321, payload).unwrap();
    buf.truncate(size);
    buf
}

fn record(sequence: u64, timestamp: u64, pid: u32, payload: &[u8]) -> Vec<u8> {
    let prepared = PreparedRecord::new(payload, FileTime(timestamp), pid).unwrap();
    let mut out = prepared.header_bytes(sequence).to_vec();
    out.extend_from_slice(payload);
    out.resize(prepared.size(), 0);
    out
}

// ---------------------------------------------------------------------------------------------
// Help and usage

#[test]
fn help_lists_the_commands_and_exit_statuses() {
    let output = ctl().arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for command in [
        "simulate",
        "decode",
        "install",
        "uninstall",
        "write",
        "tail",
        "wmi",
        "events",
        "stats",
        "clear",
        "stress",
        "verify",
    ] {
        assert!(help.contains(&format!("\n  {command} ")), "{command} missing from\n{help}");
    }
    for line in [
        "Exit status:",
        "0  success",
        "1  a check failed",
        "2  usage error",
        "3  bad input",
        "4  the command needs Windows",
        "--json",
        "--device <PATH>",
    ] {
        assert!(help.contains(line), "{line:?} missing from\n{help}");
    }
}

#[test]
fn decode_help_documents_the_hex_rule() {
    ctl()
        .args(["decode", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("packet").and(predicate::str::contains("ring")))
        .stdout(predicate::str::contains("whitespace anywhere is ignored"))
        .stdout(predicate::str::contains("no 0x prefix"));
    ctl()
        .args(["decode", "packet", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("<--hex <HEX>|FILE>"))
        .stdout(predicate::str::contains("no 0x prefix"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["decode", "packet"][..],
        &["decode", "packet", "--hex", "00", "file.bin"],
        &["decode", "ring"],
        &["decode", "nonsense"],
        &["frobnicate"],
        &["simulate", "--size", "3", "--payload", "x"],
        &["simulate", "--threads", "0"],
        &["simulate", "--writes", "-1"],
        &["stress", "--writes", "1", "--size", "1"],
        &["write"],
        &["write", "text", "--stdin"],
    ] {
        let output = ctl().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}

// ---------------------------------------------------------------------------------------------
// decode packet / event-data

#[test]
fn decode_packet_from_a_file_shows_every_field() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "packet.bin", &packet_fixture());
    assert_eq!(json_object(&["decode", "packet", path.to_str().unwrap()]), expected_packet());
}

#[test]
fn decode_packet_from_hex_in_either_case_with_whitespace() {
    let packet = packet_fixture();
    let lower = hex(&packet);
    assert_eq!(json_object(&["decode", "packet", "--hex", &lower]), expected_packet());
    // Upper case, split into groups and lines the way a hex dump is.
    let spaced: Vec<String> = packet.chunks(4).map(|c| hex(c).to_uppercase()).collect();
    let text = format!(" {}\n", spaced.join(" \n\t"));
    assert_eq!(json_object(&["decode", "packet", "--hex", &text]), expected_packet());
    // --json is accepted and changes nothing.
    assert_eq!(json_object(&["--json", "decode", "packet", "--hex", &lower]), expected_packet());
}

#[test]
fn decode_packet_strings_come_from_utf16() {
    let strings =
        [errorlog::InsertionString::Text("h\u{e9}llo \u{20ac} \u{1f600}"), errorlog::InsertionString::Decimal(0)];
    let spec = errorlog::PacketSpec {
        message: logbridge_core::messages::LOGBRIDGE_PARAMETER_DEFAULTED,
        major_function: errorlog::IRP_MJ_DEVICE_CONTROL,
        unique_error_value: u32::MAX,
        final_status: NtStatus::CANCELLED,
        sequence_number: u32::MAX,
        dump: &[0xDE, 0xAD, 0xBE, 0xEF],
        max_dump_bytes: 4,
        strings: &strings,
    };
    let plan = errorlog::plan_packet(&spec, 240).unwrap();
    let mut entry = vec![0; plan.entry_size.bytes()];
    errorlog::encode_packet(&mut entry, &spec, &plan).unwrap();
    let value = json_object(&["decode", "packet", "--hex", &hex(&entry)]);
    assert_eq!(
        value,
        json!({
            "major_function": 0x0E,
            "retry_count": 0,
            "dump_data_size": 4,
            "number_of_strings": 2,
            "string_offset": 52,
            "event_category": 0,
            "error_code": logbridge_core::messages::LOGBRIDGE_PARAMETER_DEFAULTED.id,
            "unique_error_value": u32::MAX,
            "final_status": 0xC000_0120_u32,
            "sequence_number": u32::MAX,
            "io_control_code": 0,
            "device_offset": 0,
            "dump_data": "deadbeef",
            "strings": ["h\u{e9}llo \u{20ac} \u{1f600}", "0"],
        })
    );
}

#[test]
fn decode_event_data_has_the_packet_fields_without_strings() {
    let packet = packet_fixture();
    let data = errorlog::event_data_of(&packet).unwrap();
    assert_eq!(data.len(), 48);
    assert_eq!(json_object(&["decode", "event-data", "--hex", &hex(data)]), packet_fields());
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "data.bin", data);
    assert_eq!(json_object(&["decode", "event-data", path.to_str().unwrap()]), packet_fields());
}

// ---------------------------------------------------------------------------------------------
// decode wnode

#[test]
fn decode_wnode_of_a_logbridge_event() {
    let item = wnode_fixture(b"hello");
    let value = json_object(&["decode", "wnode", "--hex", &hex(&item)]);
    assert_eq!(
        value,
        json!({
            "buffer_size": 97,
            "provider_id": 0x1234,
            "flags": 0x8A,
            "timestamp": 133_444_736_000_000_000_i64,
            "guid": "7f15bfe3-63dd-428f-95f6-a8eb1f5a56a4",
            "instance_index": 0,
            "data_block_offset": 64,
            "size_data_block": 33,
            "data": hex(&item[64..]),
            "event": {
                "sequence": 9,
                "timestamp": 133_444_736_000_000_000_u64,
                "process_id": 4321,
                "total_length": 5,
                "payload": "68656c6c6f",
            },
        })
    );
    assert_eq!(value["guid"], json!(GUID_LOGBRIDGE_WRITE_EVENT.to_string()));
}

#[test]
fn decode_wnode_of_a_large_write_shows_the_cut_payload() {
    let payload: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let item = wnode_fixture(&payload);
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "item.bin", &item);
    let value = json_object(&["decode", "wnode", path.to_str().unwrap()]);
    assert_eq!(value["buffer_size"], json!(1024));
    assert_eq!(value["event"]["total_length"], json!(5000));
    assert_eq!(value["event"]["payload"], json!(hex(&payload[..wmi::MAX_EVENT_PAYLOAD])));
}

#[test]
fn decode_wnode_of_another_guid_has_no_event_key() {
    let mut item = wnode_fixture(b"hello");
    item[24..40].copy_from_slice(&logbridge_core::guid::GUID_DEVINTERFACE_LOGBRIDGE.to_bytes_le());
    let value = json_object(&["decode", "wnode", "--hex", &hex(&item)]);
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 9, "{value}");
    assert!(!object.contains_key("event"));
    assert_eq!(value["guid"], json!("c97fe1c4-5e74-4d73-ba0a-09d332e34da0"));
    assert_eq!(value["data"], json!(hex(&item[64..])));
}

// ---------------------------------------------------------------------------------------------
// decode ring

#[test]
fn decode_ring_recovers_records_around_damage() {
    let first = record(100, 133_444_736_000_000_000, 11, b"first record");
    let mut corrupt = record(101, 133_444_736_000_000_001, 12, b"this one is damaged");
    corrupt[40] ^= 0x20;
    let empty = record(102, 133_444_736_000_000_002, 13, b"");
    let binary = record(u64::MAX, u64::MAX, u32::MAX, &[0, 1, 2, 0xFF]);
    let torn = record(104, 4, 14, b"cut off at the end of the dump");

    let mut stream = b"tail of an overwritten record".to_vec();
    stream.extend_from_slice(&first);
    stream.extend_from_slice(&corrupt);
    stream.extend_from_slice(&empty);
    stream.extend_from_slice(b"\x00\x01garbage\xFF");
    stream.extend_from_slice(&binary);
    stream.extend_from_slice(&torn[..40]);

    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "ring.bin", &stream);
    let lines = json_lines(&["decode", "ring", path.to_str().unwrap()]);
    let skipped = 29 + corrupt.len() + 10 + 40;
    assert_eq!(
        lines,
        [
            json!({"sequence": 100, "timestamp": 133_444_736_000_000_000_u64, "pid": 11, "length": 12, "payload": hex(b"first record")}),
            json!({"sequence": 102, "timestamp": 133_444_736_000_000_002_u64, "pid": 13, "length": 0, "payload": ""}),
            json!({"sequence": u64::MAX, "timestamp": u64::MAX, "pid": u32::MAX, "length": 4, "payload": "000102ff"}),
            json!({"records": 3, "bytes_skipped": skipped, "corrupt": 1}),
        ]
    );
}

#[test]
fn decode_ring_of_an_empty_or_garbage_file_reports_nothing_found() {
    let dir = TempDir::new().unwrap();
    let empty = write_file(&dir, "empty.bin", &[]);
    assert_eq!(
        json_lines(&["decode", "ring", empty.to_str().unwrap()]),
        [json!({"records": 0, "bytes_skipped": 0, "corrupt": 0})]
    );
    let noise = write_file(&dir, "noise.bin", &[0x5A; 1000]);
    assert_eq!(
        json_lines(&["decode", "ring", noise.to_str().unwrap()]),
        [json!({"records": 0, "bytes_skipped": 1000, "corrupt": 0})]
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input: status 3, a message, no panic

#[test]
fn malformed_hex_is_bad_input_for_every_decoder() {
    for decoder in ["packet", "event-data", "wnode"] {
        fails_with(&["decode", decoder, "--hex", "abc"], 3, "3 hex digits is an odd number");
        fails_with(&["decode", decoder, "--hex", "0x00"], 3, "'x' at position 2");
        fails_with(&["decode", decoder, "--hex", "00:11"], 3, "':' at position 3");
        fails_with(&["decode", decoder, "--hex", "00 1g"], 3, "'g' at position 5");
        fails_with(&["decode", decoder, "--hex", ""], 3, "");
    }
}

#[test]
fn missing_files_are_bad_input_for_every_decoder() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing.bin");
    let missing = missing.to_str().unwrap();
    for decoder in ["packet", "event-data", "wnode", "ring"] {
        fails_with(&["decode", decoder, missing], 3, &format!("cannot read {missing}"));
    }
    // A directory is not a readable file either.
    fails_with(&["decode", "ring", dir.path().to_str().unwrap()], 3, "cannot read");
}

#[test]
fn malformed_packets_are_bad_input() {
    let packet = packet_fixture();
    fails_with(&["decode", "packet", "--hex", &hex(&packet[..47])], 3, "shorter than the 48-byte header");
    // Cut inside the last string: no terminator.
    fails_with(&["decode", "packet", "--hex", &hex(&packet[..packet.len() - 2])], 3, "has no NUL terminator");
    let mut bad = packet.clone();
    bad[2] = 0xF0;
    fails_with(&["decode", "packet", "--hex", &hex(&bad)], 3, "DumpDataSize 240 runs past the end");
    let mut bad = packet.clone();
    bad[6] = 0xFF;
    fails_with(&["decode", "packet", "--hex", &hex(&bad)], 3, "StringOffset 255");
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "short.bin", &packet[..10]);
    fails_with(&["decode", "packet", path.to_str().unwrap()], 3, "not a valid IO_ERROR_LOG_PACKET");
}

#[test]
fn malformed_event_data_is_bad_input() {
    let packet = packet_fixture();
    // The whole packet is not event data: the strings follow the DumpData.
    fails_with(&["decode", "event-data", "--hex", &hex(&packet)], 3, "bytes follow the DumpData");
    fails_with(&["decode", "event-data", "--hex", &hex(&packet[..39])], 3, "shorter than the 40-byte header");
    fails_with(&["decode", "event-data", "--hex", &hex(&packet[..44])], 3, "DumpDataSize 8 runs past the end");
}

#[test]
fn malformed_wnodes_are_bad_input() {
    let item = wnode_fixture(b"hello");
    // BufferSize says one byte more than there is.
    let mut bad = item.clone();
    bad[0] += 1;
    fails_with(&["decode", "wnode", "--hex", &hex(&bad)], 3, "BufferSize 98 does not match the 97-byte input");
    fails_with(&["decode", "wnode", "--hex", &hex(&item[..63])], 3, "shorter than a 64-byte WNODE_SINGLE_INSTANCE");
    let mut bad = item.clone();
    bad[44] = 0x01;
    fails_with(&["decode", "wnode", "--hex", &hex(&bad)], 3, "lack WNODE_FLAG_EVENT_ITEM");
    let mut bad = item.clone();
    bad[60] = 0xFF;
    fails_with(&["decode", "wnode", "--hex", &hex(&bad)], 3, "outside the item");
    // The LogBridge GUID with a PayloadLength past the data block.
    let mut bad = item.clone();
    bad[64 + 24] = 200;
    fails_with(&["decode", "wnode", "--hex", &hex(&bad)], 3, "LogBridge_WriteEvent GUID but");
}

#[test]
fn arbitrary_bytes_never_panic_the_decoders() {
    let dir = TempDir::new().unwrap();
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    for round in 0..20 {
        let len = (round * 13) % 200;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect();
        let path = write_file(&dir, &format!("random{round}.bin"), &bytes);
        for decoder in ["packet", "event-data", "wnode", "ring"] {
            let output = ctl().args(["decode", decoder, path.to_str().unwrap()]).output().unwrap();
            assert!(matches!(output.status.code(), Some(0 | 3)), "{decoder} {bytes:?}");
            assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Windows-only commands

#[cfg(not(windows))]
#[test]
fn windows_commands_exit_4_here() {
    let dir = TempDir::new().unwrap();
    let inf = dir.path().join("logbridge.inf");
    let inf = inf.to_str().unwrap();
    let cases: [(&str, &[&str]); 10] = [
        ("install", &["install", "--inf", inf]),
        ("uninstall", &["uninstall"]),
        ("write", &["write", "hello", "world", "--lines"]),
        ("tail", &["tail", "--follow", "--from-start"]),
        ("wmi", &["wmi", "--follow"]),
        ("events", &["events", "--since", "10m", "--max", "5"]),
        ("stats", &["--json", "stats"]),
        ("clear", &["--device", r"\\.\LogBridge", "clear"]),
        ("stress", &["stress", "--writes", "10", "--size", "64", "--threads", "2", "--rate", "100"]),
        ("verify", &["verify", "--writes", "3"]),
    ];
    for (name, args) in cases {
        let expected = format!(
            "logbridge-ctl {name}: needs Windows (it talks to the LogBridge driver); on this host try `logbridge-ctl simulate`\n"
        );
        ctl().args(args).assert().code(4).stdout("").stderr(expected);
    }
}

#[test]
fn file_paths_with_spaces_work() {
    let dir = TempDir::new().unwrap();
    let path: PathBuf = write_file(&dir, "a packet file.bin", &packet_fixture());
    assert!(Path::new(&path).exists());
    assert_eq!(json_object(&["decode", "packet", path.to_str().unwrap()]), expected_packet());
}
