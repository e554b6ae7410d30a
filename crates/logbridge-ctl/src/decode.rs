//! `logbridge-ctl decode`: the driver's binary forms, decoded to JSON with logbridge-core's own
//! decoders (the same code the driver and its tests run).
//!
//! | Command | Input | Output |
//! |---|---|---|
//! | `decode packet` | an `IO_ERROR_LOG_PACKET` as the driver wrote it | one object: every header field, `dump_data`, `strings` |
//! | `decode event-data` | the Event Log "binary data" of an event (the packet's first 40 bytes, then DumpData) | one object: the same without `strings` |
//! | `decode wnode` | a `WNODE_SINGLE_INSTANCE` WMI event item | one object: the header fields, `data`, and `event` when the GUID is LogBridge's |
//! | `decode ring` | a ring-log dump or a `READ_LOG` record stream | one line per recovered record, then one summary line |
//!
//! Input is `--hex HEX` (see [`crate::hex`] for the rule) or a FILE of raw bytes (`decode ring`
//! takes a FILE only). Output is always JSON, one object per line: numbers are JSON integers
//! (64-bit values too, never strings or floats), byte strings are lowercase hex.
//!
//! ## `decode packet` and `decode event-data`
//! Keys, in order: `major_function`, `retry_count`, `dump_data_size`, `number_of_strings`,
//! `string_offset`, `event_category`, `error_code`, `unique_error_value`, `final_status`,
//! `sequence_number`, `io_control_code`, `device_offset`, `dump_data` and (packet only) `strings`.
//! `error_code` and `final_status` are unsigned 32-bit (`0xC0000120` is `3221225760`);
//! `device_offset` is signed 64-bit. `strings` are the insertion strings `%2` onward, decoded from
//! UTF-16LE; an unpaired surrogate becomes U+FFFD.
//!
//! ## `decode wnode`
//! Keys: `buffer_size`, `provider_id`, `flags`, `timestamp` (the header's, signed 100 ns since
//! 1601), `guid` (lowercase `8-4-4-4-12`), `instance_index`, `data_block_offset`,
//! `size_data_block`, `data` (the data block), and, only when the GUID is `LogBridge_WriteEvent`'s,
//! `event`: `sequence`, `timestamp`, `process_id`, `total_length`, `payload` (the bytes carried,
//! at most 932). For another GUID the key is absent. A LogBridge GUID with a malformed data block is
//! a decode error.
//!
//! ## `decode ring`
//! One line per valid record, in stream order: `sequence`, `timestamp` (100 ns since 1601), `pid`,
//! `length` (payload bytes), `payload`. Then one summary line: `records`, `bytes_skipped` (bytes
//! that were not part of a valid record: garbage, torn or cut-off records, corrupt records) and
//! `corrupt` (whole records whose CRC-32C failed). Damage is reported, not an error: the exit status
//! is 0 whenever the file could be read.

use crate::error::{CtlError, Outcome};
use crate::hex;
use clap::{Args, Subcommand};
use logbridge_core::errorlog::{self, PacketHeader};
use logbridge_core::record::{DecodeTotals, RecordDecoder, RecordView};
use logbridge_core::wmi::{self, WriteEvent};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `decode` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum DecodeCommand {
    /// Decode a whole IO_ERROR_LOG_PACKET as the driver wrote it (header, DumpData, insertion strings)
    ///
    /// Prints one JSON object with the keys major_function, retry_count, dump_data_size,
    /// number_of_strings, string_offset, event_category, error_code, unique_error_value,
    /// final_status, sequence_number, io_control_code, device_offset (integers; error_code and
    /// final_status unsigned 32-bit), dump_data (hex) and strings (the insertion strings %2
    /// onward, decoded from UTF-16LE).
    #[command(after_help = INPUT_HELP)]
    Packet(InputArgs),
    /// Decode Event Log binary data: the packet's first 40 bytes followed by DumpData (no strings)
    ///
    /// Prints one JSON object with the keys of `decode packet` except strings. The input must be
    /// exactly 40 + DumpDataSize bytes.
    #[command(after_help = INPUT_HELP)]
    EventData(InputArgs),
    /// Decode a WNODE_SINGLE_INSTANCE WMI event item, and the LogBridge_WriteEvent it carries
    ///
    /// Prints one JSON object with the keys buffer_size, provider_id, flags, timestamp, guid
    /// (lowercase 8-4-4-4-12), instance_index, data_block_offset, size_data_block, data (the data
    /// block, hex) and, only when the GUID is LogBridge_WriteEvent's, event: {sequence, timestamp,
    /// process_id, total_length, payload (hex)}. A LogBridge GUID with a malformed data block is
    /// bad input.
    #[command(after_help = INPUT_HELP)]
    Wnode(InputArgs),
    /// Recover the records of a ring-log dump or READ_LOG stream: one JSON line each, then a summary
    ///
    /// Prints one JSON line per valid record, in stream order, with the keys sequence, timestamp
    /// (100 ns since 1601), pid, length and payload (hex); then one summary line with the keys
    /// records, bytes_skipped (bytes not part of a valid record: garbage, torn, cut-off or corrupt
    /// records) and corrupt (whole records whose CRC-32C failed). Damage in the stream is
    /// reported, not an error.
    Ring(RingArgs),
}

/// Where the bytes come from: `--hex HEX` or a raw binary FILE (exactly one).
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct InputArgs {
    /// The bytes as hex: digits in either case, whitespace ignored, nothing else (no 0x, no separators)
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,
    /// A file holding the raw bytes
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Arguments of `decode ring`.
#[derive(Args, Debug, Clone)]
pub struct RingArgs {
    /// A raw ring-log dump or record stream (read whole; a ring is a few MiB at most)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// The help text about input that `decode --help` ends with.
pub const INPUT_HELP: &str = "\
Input:
  --hex HEX   hex digits 0-9 a-f A-F, two per byte; ASCII whitespace anywhere is ignored.
              Anything else is refused with its character and position (counted from 1):
              no 0x prefix, no ':' '-' ',' separators. The digit count must be even.
  FILE        raw binary bytes.

Output is JSON, one object per line: numbers are integers, bytes are lowercase hex.
Bad input (malformed hex, unreadable file, bytes that do not decode) exits with status 3.";

/// Runs a `decode` subcommand, writing its JSON lines to `out`.
pub fn run(command: &DecodeCommand, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    match command {
        DecodeCommand::Packet(input) => {
            let bytes = load(input)?;
            write_line(out, &packet_json(&bytes)?)?;
        }
        DecodeCommand::EventData(input) => {
            let bytes = load(input)?;
            write_line(out, &event_data_json(&bytes)?)?;
        }
        DecodeCommand::Wnode(input) => {
            let bytes = load(input)?;
            write_line(out, &wnode_json(&bytes)?)?;
        }
        DecodeCommand::Ring(args) => {
            let bytes = read_file(&args.file)?;
            let (records, summary) = ring_json(&bytes);
            for record in &records {
                write_line(out, record)?;
            }
            write_line(out, &summary)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

/// Writes `value` as one JSON line (the form of every `--json` output).
pub(crate) fn write_line<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), CtlError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| CtlError::Io(e.into()))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The input bytes of `--hex` or FILE.
pub fn load(input: &InputArgs) -> Result<Vec<u8>, CtlError> {
    match (&input.hex, &input.file) {
        (Some(text), _) => hex::parse(text).map_err(|e| CtlError::BadInput(e.to_string())),
        (None, Some(path)) => read_file(path),
        // clap's group makes one of them required; refuse rather than trust it.
        (None, None) => Err(CtlError::BadInput("no input: give --hex HEX or a FILE".to_string())),
    }
}

/// Reads a whole input file; failing to is bad input.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CtlError> {
    std::fs::read(path).map_err(|e| CtlError::BadInput(format!("cannot read {}: {e}", path.display())))
}

// ---------------------------------------------------------------------------------------------
// The JSON forms (pure: bytes in, serialisable struct out)

/// `decode event-data` output; also the first keys of `decode packet`: the header fields under
/// their `PacketHeader` names, then `dump_data`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct EventDataJson {
    /// The fixed fields (error_code and final_status as unsigned 32-bit values).
    #[serde(flatten)]
    pub header: PacketHeader,
    /// `DumpData`, hex.
    pub dump_data: String,
}

impl EventDataJson {
    fn new(header: &PacketHeader, dump_data: &[u8]) -> Self {
        EventDataJson { header: *header, dump_data: hex::encode(dump_data) }
    }
}

/// `decode packet` output.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PacketJson {
    /// The header fields and DumpData.
    #[serde(flatten)]
    pub fields: EventDataJson,
    /// The insertion strings, `%2` first.
    pub strings: Vec<String>,
}

/// Decodes a whole `IO_ERROR_LOG_PACKET`.
pub fn packet_json(bytes: &[u8]) -> Result<PacketJson, CtlError> {
    let packet = errorlog::parse_packet(bytes)
        .map_err(|e| CtlError::BadInput(format!("not a valid IO_ERROR_LOG_PACKET: {e}")))?;
    Ok(PacketJson {
        fields: EventDataJson::new(&packet.header, packet.dump_data),
        strings: packet.strings().map(|s| s.to_string()).collect(),
    })
}

/// Decodes Event Log binary data.
pub fn event_data_json(bytes: &[u8]) -> Result<EventDataJson, CtlError> {
    let data = errorlog::parse_event_data(bytes)
        .map_err(|e| CtlError::BadInput(format!("not valid Event Log binary data: {e}")))?;
    Ok(EventDataJson::new(&data.header, data.dump_data))
}

/// The `event` of `decode wnode`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct WriteEventJson {
    /// `SequenceNumber`.
    pub sequence: u64,
    /// `Timestamp`, 100 ns since 1601.
    pub timestamp: u64,
    /// `ProcessId`.
    pub process_id: u32,
    /// `TotalLength`: the size of the write.
    pub total_length: u32,
    /// `Payload`: the first bytes of the write, hex.
    pub payload: String,
}

impl From<&WriteEvent<'_>> for WriteEventJson {
    fn from(event: &WriteEvent<'_>) -> Self {
        WriteEventJson {
            sequence: event.sequence,
            timestamp: event.timestamp.0,
            process_id: event.process_id,
            total_length: event.total_length,
            payload: hex::encode(event.payload),
        }
    }
}

/// `decode wnode` output.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct WnodeJson {
    /// `BufferSize`.
    pub buffer_size: u32,
    /// `ProviderId`.
    pub provider_id: u32,
    /// `Flags`.
    pub flags: u32,
    /// `TimeStamp`.
    pub timestamp: i64,
    /// `Guid`, lowercase 8-4-4-4-12.
    pub guid: String,
    /// `InstanceIndex`.
    pub instance_index: u32,
    /// `DataBlockOffset`.
    pub data_block_offset: u32,
    /// `SizeDataBlock`.
    pub size_data_block: u32,
    /// The data block, hex.
    pub data: String,
    /// The LogBridge event, when the GUID is `LogBridge_WriteEvent`'s; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<WriteEventJson>,
}

/// Decodes a WMI event item.
pub fn wnode_json(bytes: &[u8]) -> Result<WnodeJson, CtlError> {
    let wnode = wmi::parse_wnode(bytes)
        .map_err(|e| CtlError::BadInput(format!("not a valid WNODE_SINGLE_INSTANCE event item: {e}")))?;
    let event = match wnode.write_event() {
        None => None,
        Some(Ok(event)) => Some(WriteEventJson::from(&event)),
        Some(Err(e)) => {
            return Err(CtlError::BadInput(format!("the item has the LogBridge_WriteEvent GUID but {e}")));
        }
    };
    let h = &wnode.header;
    Ok(WnodeJson {
        buffer_size: h.buffer_size,
        provider_id: h.provider_id,
        flags: h.flags,
        timestamp: h.timestamp,
        guid: h.guid.to_string(),
        instance_index: h.instance_index,
        data_block_offset: h.data_block_offset,
        size_data_block: h.size_data_block,
        data: hex::encode(wnode.data),
        event,
    })
}

/// One record line of `decode ring`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RingRecordJson {
    /// Sequence number.
    pub sequence: u64,
    /// Timestamp, 100 ns since 1601.
    pub timestamp: u64,
    /// Writer's process id.
    pub pid: u32,
    /// Payload length in bytes.
    pub length: u32,
    /// Payload, hex.
    pub payload: String,
}

impl From<&RecordView<'_>> for RingRecordJson {
    fn from(record: &RecordView<'_>) -> Self {
        RingRecordJson {
            sequence: record.header.sequence,
            timestamp: record.header.timestamp.0,
            pid: record.header.process_id,
            length: record.header.length,
            payload: hex::encode(record.payload),
        }
    }
}

/// The summary line of `decode ring`.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingSummaryJson {
    /// Valid records found.
    pub records: u64,
    /// Bytes that were not part of a valid record.
    pub bytes_skipped: u64,
    /// Whole records whose CRC failed.
    pub corrupt: u64,
}

impl From<DecodeTotals> for RingSummaryJson {
    fn from(totals: DecodeTotals) -> Self {
        RingSummaryJson { records: totals.records, bytes_skipped: totals.bytes_skipped, corrupt: totals.corrupt }
    }
}

/// Decodes a ring dump or record stream: its records and the totals.
pub fn ring_json(bytes: &[u8]) -> (Vec<RingRecordJson>, RingSummaryJson) {
    let mut decoder = RecordDecoder::new(bytes);
    let records = decoder.by_ref().map(|r| RingRecordJson::from(&r)).collect();
    (records, RingSummaryJson::from(decoder.totals()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use logbridge_core::NtStatus;
    use logbridge_core::errorlog::{InsertionString, PacketSpec, WriteFacts};
    use logbridge_core::guid::GUID_LOGBRIDGE_WRITE_EVENT;
    use logbridge_core::messages;
    use logbridge_core::record::PreparedRecord;
    use logbridge_core::time::FileTime;
    use proptest::prelude::*;
    use serde_json::json;

    fn write_packet(sequence: u64, pid: u32, payload: &[u8]) -> Vec<u8> {
        let facts = WriteFacts { sequence, process_id: pid, payload, final_status: NtStatus::SUCCESS };
        let strings = errorlog::write_packet_strings(&facts);
        let spec = errorlog::write_packet_spec(&facts, &strings, 240);
        let plan = errorlog::plan_packet(&spec, 240).unwrap();
        let mut entry = vec![0; plan.entry_size.bytes()];
        errorlog::encode_packet(&mut entry, &spec, &plan).unwrap();
        entry
    }

    fn record(sequence: u64, pid: u32, payload: &[u8]) -> Vec<u8> {
        let prepared = PreparedRecord::new(payload, FileTime(1000 + sequence), pid).unwrap();
        let mut out = prepared.header_bytes(sequence).to_vec();
        out.extend_from_slice(payload);
        out.resize(prepared.size(), 0);
        out
    }

    #[test]
    fn a_write_packet_decodes_to_every_key() {
        let packet = write_packet(7, 4242, b"hello");
        let value = serde_json::to_value(packet_json(&packet).unwrap()).unwrap();
        assert_eq!(
            value,
            json!({
                "major_function": 4, "retry_count": 0, "dump_data_size": 8, "number_of_strings": 4,
                "string_offset": 56, "event_category": 0, "error_code": 0x6004_0001_u32,
                "unique_error_value": 4242, "final_status": 0, "sequence_number": 7,
                "io_control_code": 0, "device_offset": 0, "dump_data": "68656c6c6f000000",
                "strings": ["7", "5", "4242", "hello"],
            })
        );
        // Key order is the documented one.
        let text = serde_json::to_string(&packet_json(&packet).unwrap()).unwrap();
        assert!(text.starts_with("{\"major_function\":4,\"retry_count\":0,"), "{text}");
        assert!(text.ends_with("\"strings\":[\"7\",\"5\",\"4242\",\"hello\"]}"), "{text}");
    }

    #[test]
    fn unsigned_and_signed_fields_keep_their_full_range() {
        let strings = [InsertionString::Text("h\u{e9}llo \u{20ac}")];
        let spec = PacketSpec {
            message: messages::LOGBRIDGE_PARAMETER_DEFAULTED,
            major_function: errorlog::IRP_MJ_DEVICE_CONTROL,
            unique_error_value: u32::MAX,
            final_status: NtStatus::CANCELLED,
            sequence_number: u32::MAX,
            dump: &[],
            max_dump_bytes: 0,
            strings: &strings,
        };
        let plan = errorlog::plan_packet(&spec, 240).unwrap();
        let mut entry = vec![0; plan.entry_size.bytes()];
        errorlog::encode_packet(&mut entry, &spec, &plan).unwrap();
        entry[32..40].copy_from_slice(&(-2i64).to_le_bytes());
        let decoded = packet_json(&entry).unwrap();
        assert_eq!(decoded.fields.header.final_status, 0xC000_0120);
        assert_eq!(decoded.fields.header.error_code, messages::LOGBRIDGE_PARAMETER_DEFAULTED.id);
        assert_eq!(decoded.fields.header.device_offset, -2);
        assert_eq!(decoded.strings, ["h\u{e9}llo \u{20ac}"]);
        let value = serde_json::to_value(&decoded).unwrap();
        assert_eq!(value["final_status"], json!(3_221_225_760_u64));
        assert_eq!(value["device_offset"], json!(-2));
    }

    #[test]
    fn event_data_has_no_strings_key() {
        let packet = write_packet(7, 4242, b"hello");
        let data = errorlog::event_data_of(&packet).unwrap();
        let value = serde_json::to_value(event_data_json(data).unwrap()).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 13);
        assert!(!object.contains_key("strings"));
        assert_eq!(value["dump_data"], json!("68656c6c6f000000"));
        // The whole packet is not event data: bytes follow the DumpData.
        let err = event_data_json(&packet).unwrap_err();
        assert!(err.to_string().contains("bytes follow the DumpData"), "{err}");
    }

    #[test]
    fn a_logbridge_wnode_carries_its_event() {
        let mut buf = vec![0; 200];
        let size =
            wmi::encode_write_event(&mut buf, 0x1234, FileTime(133_444_736_000_000_000), 9, 4321, b"hello").unwrap();
        let decoded = wnode_json(&buf[..size]).unwrap();
        assert_eq!(decoded.guid, GUID_LOGBRIDGE_WRITE_EVENT.to_string());
        assert_eq!(decoded.buffer_size, 97);
        assert_eq!(decoded.size_data_block, 33);
        assert_eq!(
            decoded.event,
            Some(WriteEventJson {
                sequence: 9,
                timestamp: 133_444_736_000_000_000,
                process_id: 4321,
                total_length: 5,
                payload: "68656c6c6f".into(),
            })
        );
        assert_eq!(decoded.data, hex::encode(&buf[64..size]));

        // Another GUID: no event key at all.
        let mut other = buf[..size].to_vec();
        other[24] ^= 1;
        let value = serde_json::to_value(wnode_json(&other).unwrap()).unwrap();
        assert!(!value.as_object().unwrap().contains_key("event"));

        // Our GUID with a PayloadLength past the block: a decode error.
        let mut bad = buf[..size].to_vec();
        bad[64 + 24] = 200;
        assert!(matches!(wnode_json(&bad), Err(CtlError::BadInput(_))));
    }

    #[test]
    fn a_ring_stream_reports_records_and_damage() {
        let a = record(1, 10, b"first");
        let mut b = record(2, 20, b"second");
        b[35] ^= 0xFF;
        let c = record(3, 30, b"");
        let mut stream = b"noise".to_vec();
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&b);
        stream.extend_from_slice(b"xyz");
        stream.extend_from_slice(&c);
        let (records, summary) = ring_json(&stream);
        assert_eq!(
            records,
            [
                RingRecordJson { sequence: 1, timestamp: 1001, pid: 10, length: 5, payload: "6669727374".into() },
                RingRecordJson { sequence: 3, timestamp: 1003, pid: 30, length: 0, payload: String::new() },
            ]
        );
        assert_eq!(summary, RingSummaryJson { records: 2, bytes_skipped: 5 + b.len() as u64 + 3, corrupt: 1 });
        assert_eq!(ring_json(&[]).1, RingSummaryJson { records: 0, bytes_skipped: 0, corrupt: 0 });
    }

    #[test]
    fn every_prefix_of_a_valid_input_decodes_or_is_refused() {
        let packet = write_packet(u64::MAX, u32::MAX, &[0xAB; 300]);
        for len in 0..packet.len() {
            assert!(matches!(packet_json(&packet[..len]), Err(CtlError::BadInput(_))), "{len}");
        }
        let mut buf = vec![0; 1100];
        let size = wmi::encode_write_event(&mut buf, 1, FileTime(1), 1, 1, &[7; 2000]).unwrap();
        for len in 0..size {
            assert!(matches!(wnode_json(&buf[..len]), Err(CtlError::BadInput(_))), "{len}");
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = packet_json(&bytes);
            let _ = event_data_json(&bytes);
            let _ = wnode_json(&bytes);
            let _ = ring_json(&bytes);
        }
    }
}
