//! Writes a small seed corpus for the byte-level fuzz targets: well-formed inputs made with
//! logbridge-core's own encoders, which libFuzzer then mutates.
//!
//!     seed_corpus <dir>     writes <dir>/packet_decoders, <dir>/wnode_decoder, <dir>/ring_stream_decoder
//!
//! `scripts/fuzz.sh` runs it into fuzz/target/seeds (never committed) and passes each directory to
//! libFuzzer as a read-only second corpus. The structured targets (`size_planner`, `ring_ops`) take
//! `arbitrary` input, for which there are no meaningful hand-made bytes, so they start empty.
//!
//! Not a fuzz target (it is not a `[[bin]]` in Cargo.toml, so `cargo fuzz list` does not show it);
//! it is built with the targets by `cargo fuzz build`.

use logbridge_core::errorlog::{
    InsertionString, PacketSpec, WriteFacts, encode_packet, event_data_of, plan_packet, write_packet_spec,
    write_packet_strings,
};
use logbridge_core::messages;
use logbridge_core::record::PreparedRecord;
use logbridge_core::ring::RingLog;
use logbridge_core::status::NtStatus;
use logbridge_core::time::FileTime;
use logbridge_core::wmi::{encode_write_event, event_item_size};
use std::path::Path;
use std::{env, fs, process};

/// Payloads of the kinds the driver sees: empty, short text, text with `%` and non-ASCII, binary,
/// and long enough to be cut.
fn payloads() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"hello".to_vec(),
        "100% sure, caf\u{e9} \u{1F600}".as_bytes().to_vec(),
        vec![0x00, 0x01, 0xFF, 0xFE, 0x0A],
        (0..=255u8).cycle().take(1500).collect(),
        b"LBR1 inside a payload".to_vec(),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", dir.join(name).display()));
}

/// Write packets (x64 and x86 limits) and their Event Log binary data, plus a packet with text strings.
fn packets(dir: &Path) {
    for (i, payload) in payloads().iter().enumerate() {
        for maximum in [240, 152] {
            let facts =
                WriteFacts { sequence: 1000 + i as u64, process_id: 4242, payload, final_status: NtStatus::SUCCESS };
            let strings = write_packet_strings(&facts);
            let spec = write_packet_spec(&facts, &strings, maximum);
            let plan = plan_packet(&spec, maximum).expect("write packets always plan");
            let mut entry = vec![0u8; plan.entry_size.bytes()];
            encode_packet(&mut entry, &spec, &plan).expect("a planned packet encodes");
            write(dir, &format!("write-{i}-{maximum}"), &entry);
            write(dir, &format!("event-data-{i}-{maximum}"), event_data_of(&entry).unwrap());
        }
    }
    let strings = [InsertionString::Text("MaxWriteSize"), InsertionString::Decimal(0), InsertionString::Decimal(65536)];
    let spec = PacketSpec {
        message: messages::LOGBRIDGE_PARAMETER_DEFAULTED,
        major_function: 0,
        unique_error_value: 7,
        final_status: NtStatus::INVALID_PARAMETER,
        sequence_number: 9,
        dump: &[1, 2, 3, 4, 5],
        max_dump_bytes: 8,
        strings: &strings,
    };
    let plan = plan_packet(&spec, 240).unwrap();
    let mut entry = vec![0u8; plan.entry_size.bytes()];
    encode_packet(&mut entry, &spec, &plan).unwrap();
    write(dir, "parameter-defaulted", &entry);
}

/// WMI event items for each payload (the largest is cut to the 1 KiB item limit).
fn wnodes(dir: &Path) {
    for (i, payload) in payloads().iter().enumerate() {
        let mut item = vec![0u8; event_item_size(payload.len())];
        let size =
            encode_write_event(&mut item, 0x1234, FileTime(133_444_736_000_000_000), 77 + i as u64, 4321, payload)
                .expect("an event item encodes into its own size");
        write(dir, &format!("event-item-{i}"), &item[..size]);
    }
}

/// Record streams: a clean run of records, the same with garbage and a torn prefix, and the raw
/// buffer of a small ring that has wrapped (as a crash-dump reader would find it).
fn record_streams(dir: &Path) {
    let mut clean = Vec::new();
    for (i, payload) in payloads().iter().take(5).enumerate() {
        let record = PreparedRecord::new(payload, FileTime(1000 + i as u64), 4321).unwrap();
        clean.extend_from_slice(&record.header_bytes(i as u64));
        clean.extend_from_slice(payload);
        clean.resize(clean.len().next_multiple_of(8), 0);
    }
    write(dir, "stream-clean", &clean);
    let mut dirty = b"junk".to_vec();
    dirty.extend_from_slice(&clean[10..]);
    dirty.extend_from_slice(&clean[..200]);
    write(dir, "stream-torn", &dirty);

    let mut ring = RingLog::new(vec![0u8; 512]).unwrap();
    for (i, payload) in payloads().iter().cycle().take(12).enumerate() {
        let payload = &payload[..payload.len().min(100)];
        ring.append(&PreparedRecord::new(payload, FileTime(i as u64), 1).unwrap()).unwrap();
    }
    let mut dump = vec![0u8; ring.capacity()];
    let (len, _) = ring.copy_recent(&mut dump);
    write(dir, "ring-dump", &dump[..len]);
}

fn main() {
    let Some(root) = env::args_os().nth(1) else {
        eprintln!("usage: seed_corpus <dir>");
        process::exit(2);
    };
    let root = Path::new(&root);
    type Make = fn(&Path);
    let targets: [(&str, Make); 3] =
        [("packet_decoders", packets), ("wnode_decoder", wnodes), ("ring_stream_decoder", record_streams)];
    for (target, make) in targets {
        let dir = root.join(target);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        make(&dir);
    }
}
