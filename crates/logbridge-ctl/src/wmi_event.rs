//! `LogBridge_WriteEvent` instances received from WMI, decoded and checked: the portable half of
//! `logbridge-ctl wmi` and of the WMI check of `verify`.
//!
//! The Windows layer subscribes to [`EVENT_QUERY`] in [`NAMESPACE`] with the `wmi` crate, converts
//! each event's properties (`wmi::Variant`) to [`WmiValue`]s and calls [`decode_properties`]. The
//! class is declared in `inf/logbridge.mof`:
//!
//! | Property | MOF type | Accepted as |
//! |---|---|---|
//! | `InstanceName` | `string` | `Text` |
//! | `SequenceNumber`, `Timestamp` | `uint64` | `Unsigned`, non-negative `Signed`, or `Text` holding a decimal integer (WMI hands 64-bit integers over as strings, `VT_BSTR`, in many paths) |
//! | `ProcessId`, `TotalLength`, `PayloadLength` | `uint32` | the same, within `0..=u32::MAX` |
//! | `Payload` | `uint8[]` | `Array` of integers in `0..=255` (any of the integer forms above); `Null` for an empty array (how WMI hands over a zero-length array) |
//!
//! `Active` (`boolean`) and the `__`-prefixed system properties are ignored, as is any other
//! property. Names are matched case-insensitively, as WMI does. The event is then checked:
//! `PayloadLength` equals the number of `Payload` bytes, is at most `TotalLength`, and at most
//! [`MAX_EVENT_PAYLOAD`] (the driver cuts the payload so that the event item stays within 1 KiB).
//! Every refusal is a one-line message naming the property.
//!
//! A decoded event prints as one line ([`WmiWriteEvent::to_line`]) or one JSON object
//! ([`WmiWriteEvent::to_json`]), and [`WmiWriteEvent::matches_write`] says whether it reports a
//! given write.

use crate::hex;
use logbridge_core::time::FileTime;
use logbridge_core::wmi::{MAX_EVENT_PAYLOAD, WriteEvent};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// The WQL notification query: "SELECT * FROM LogBridge_WriteEvent".
pub const EVENT_QUERY: &str = "SELECT * FROM LogBridge_WriteEvent";

/// The namespace: "ROOT\\WMI".
pub const NAMESPACE: &str = "ROOT\\WMI";

/// The WMI class of the events.
pub const CLASS_NAME: &str = "LogBridge_WriteEvent";

/// The properties [`decode_properties`] reads, with their MOF types (`[]` marks an array), in the
/// order of `inf/logbridge.mof`.
pub const DECODED_PROPERTIES: [(&str, &str); 7] = [
    (INSTANCE_NAME, "string"),
    (SEQUENCE_NUMBER, "uint64"),
    (TIMESTAMP, "uint64"),
    (PROCESS_ID, "uint32"),
    (TOTAL_LENGTH, "uint32"),
    (PAYLOAD_LENGTH, "uint32"),
    (PAYLOAD, "uint8[]"),
];

const INSTANCE_NAME: &str = "InstanceName";
const SEQUENCE_NUMBER: &str = "SequenceNumber";
const TIMESTAMP: &str = "Timestamp";
const PROCESS_ID: &str = "ProcessId";
const TOTAL_LENGTH: &str = "TotalLength";
const PAYLOAD_LENGTH: &str = "PayloadLength";
const PAYLOAD: &str = "Payload";

/// How many payload bytes [`WmiWriteEvent::to_line`] shows at most.
pub const LINE_PAYLOAD_BYTES: usize = 64;

/// What the WMI subscription thread reports to the command that waits for events.
#[derive(Debug, PartialEq)]
pub enum WmiMessage {
    /// The notification query is registered: events from now on arrive.
    Subscribed,
    /// One event, decoded (or why it did not decode).
    Event(Result<WmiWriteEvent, String>),
    /// The subscription failed; nothing more comes.
    Failed(String),
}

/// Forwards the items of a WMI event enumerator to `send` until the enumerator fails or ends, or
/// `send` says the receiver is gone (returns false).
///
/// An item the enumerator delivers is an event: `decode` turns it into a [`WmiWriteEvent`] or says
/// why it could not, and the subscription goes on (one malformed event is not the end). An error
/// from the enumerator itself is not an event: it means the subscription is broken (the WMI
/// service stopped, the connection was lost, the query was cancelled), and the `wmi` crate's
/// iterator then yields the same error forever. So the first error ends the subscription with one
/// [`WmiMessage::Failed`] instead of a stream of bad events. An enumerator that ends is reported
/// the same way.
pub fn pump_events<O, E: std::fmt::Display>(
    events: impl IntoIterator<Item = Result<O, E>>,
    mut decode: impl FnMut(O) -> Result<WmiWriteEvent, String>,
    mut send: impl FnMut(WmiMessage) -> bool,
) {
    for item in events {
        let message = match item {
            Ok(object) => WmiMessage::Event(decode(object)),
            Err(e) => {
                let _ = send(WmiMessage::Failed(format!(
                    "the WMI event subscription ({EVENT_QUERY} in {NAMESPACE}) failed: {e}; no more events \
                     will arrive (is the Windows Management Instrumentation service running?)"
                )));
                return;
            }
        };
        if !send(message) {
            return;
        }
    }
    let _ = send(WmiMessage::Failed(format!(
        "the WMI event subscription ({EVENT_QUERY} in {NAMESPACE}) ended: WMI delivers no more events"
    )));
}

/// The last second humantime can format (the end of year 9999), as seconds since 1970.
const LAST_FORMATTABLE_SECOND: u64 = 253_402_300_799;

/// A WMI property value, as far as LogBridge needs it (the Windows layer converts wmi::Variant to
/// this: `UI1`..`UI8` to `Unsigned`, `I1`..`I8` to `Signed`, `String` to `Text`, `Bool` to `Bool`,
/// `Array` element by element, `Null` and `Empty` to `Null`, anything else to `Other`).
#[derive(Clone, Debug, PartialEq)]
pub enum WmiValue {
    /// No value (`VT_NULL` / `VT_EMPTY`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An unsigned integer of any width.
    Unsigned(u64),
    /// A signed integer of any width.
    Signed(i64),
    /// A string (also how WMI often hands over 64-bit integers).
    Text(String),
    /// An array.
    Array(Vec<WmiValue>),
    /// Anything else (floating point, objects, unknown variants).
    Other,
}

impl WmiValue {
    /// What kind of value this is, for messages.
    fn kind(&self) -> &'static str {
        match self {
            WmiValue::Null => "null",
            WmiValue::Bool(_) => "a boolean",
            WmiValue::Unsigned(_) => "an unsigned integer",
            WmiValue::Signed(_) => "a signed integer",
            WmiValue::Text(_) => "a string",
            WmiValue::Array(_) => "an array",
            WmiValue::Other => "a value of another type",
        }
    }
}

/// One LogBridge_WriteEvent, decoded and checked (PayloadLength == Payload.len(), PayloadLength <=
/// TotalLength, PayloadLength <= logbridge_core::wmi::MAX_EVENT_PAYLOAD).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WmiWriteEvent {
    /// `InstanceName`: the WMI instance name of the device written to.
    pub instance_name: String,
    /// `SequenceNumber`: the write's record sequence number in the ring log.
    pub sequence: u64,
    /// `Timestamp`: when the write arrived, 100 ns since 1601 (UTC).
    pub timestamp: u64,
    /// `ProcessId`: the process that wrote.
    pub process_id: u32,
    /// `TotalLength`: the size of the whole write.
    pub total_length: u32,
    /// `Payload`: the first bytes of the write (`PayloadLength` of them).
    pub payload: Vec<u8>,
}

/// Decodes from the property list (name, value); property names matched case-insensitively (WMI
/// is case-insensitive). Err(one-line message naming the property) when missing, of the wrong
/// type, out of range, or inconsistent.
pub fn decode_properties(properties: &[(String, WmiValue)]) -> Result<WmiWriteEvent, String> {
    let instance_name = match property(properties, INSTANCE_NAME)? {
        WmiValue::Text(text) => text.clone(),
        other => return Err(wrong_type(INSTANCE_NAME, "string", other)),
    };
    let sequence = unsigned(properties, SEQUENCE_NUMBER, "uint64", u64::MAX)?;
    let timestamp = unsigned(properties, TIMESTAMP, "uint64", u64::MAX)?;
    let process_id = uint32(properties, PROCESS_ID)?;
    let total_length = uint32(properties, TOTAL_LENGTH)?;
    let payload_length = uint32(properties, PAYLOAD_LENGTH)?;
    let payload = bytes(PAYLOAD, property(properties, PAYLOAD)?)?;

    let carried = u64::try_from(payload.len()).unwrap_or(u64::MAX);
    if u64::from(payload_length) != carried {
        return Err(format!("{CLASS_NAME}: {PAYLOAD_LENGTH} is {payload_length} but {PAYLOAD} has {carried} bytes"));
    }
    if payload_length > total_length {
        return Err(format!("{CLASS_NAME}: {PAYLOAD_LENGTH} {payload_length} exceeds {TOTAL_LENGTH} {total_length}"));
    }
    if payload.len() > MAX_EVENT_PAYLOAD {
        return Err(format!(
            "{CLASS_NAME}: {PAYLOAD_LENGTH} {payload_length} exceeds the {MAX_EVENT_PAYLOAD} bytes an event carries"
        ));
    }
    Ok(WmiWriteEvent { instance_name, sequence, timestamp, process_id, total_length, payload })
}

/// The value of property `name` (the first one whose name matches, ignoring ASCII case).
fn property<'a>(properties: &'a [(String, WmiValue)], name: &str) -> Result<&'a WmiValue, String> {
    properties
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .ok_or_else(|| format!("{CLASS_NAME}: property {name} is missing"))
}

fn wrong_type(name: &str, expected: &str, got: &WmiValue) -> String {
    format!("{CLASS_NAME}: property {name} should be {expected}, but it is {}", got.kind())
}

/// A property of MOF type `mof_type` whose values are at most `max`.
fn unsigned(properties: &[(String, WmiValue)], name: &str, mof_type: &str, max: u64) -> Result<u64, String> {
    integer(name, mof_type, max, property(properties, name)?)
}

fn uint32(properties: &[(String, WmiValue)], name: &str) -> Result<u32, String> {
    let value = unsigned(properties, name, "uint32", u64::from(u32::MAX))?;
    // `unsigned` checked the range; map rather than trust it.
    u32::try_from(value).map_err(|_| format!("{CLASS_NAME}: property {name} is {value}, above the uint32 range"))
}

/// An integer in `0..=max` from any of the forms WMI uses (`what` names it in messages).
fn integer(what: &str, mof_type: &str, max: u64, value: &WmiValue) -> Result<u64, String> {
    let number = match value {
        WmiValue::Unsigned(n) => *n,
        WmiValue::Signed(n) => u64::try_from(*n)
            .map_err(|_| format!("{CLASS_NAME}: property {what} is {n}, but {mof_type} cannot be negative"))?,
        WmiValue::Text(text) => {
            let digits = text.trim();
            digits.parse::<u64>().map_err(|_| {
                let shown: String = digits.chars().take(40).collect();
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    format!("{CLASS_NAME}: property {what} is {shown}, above the {mof_type} range (0..={max})")
                } else {
                    format!("{CLASS_NAME}: property {what} is the string {shown:?}, not a decimal {mof_type}")
                }
            })?
        }
        other => return Err(wrong_type(what, &format!("{mof_type} (an integer)"), other)),
    };
    if number > max {
        return Err(format!("{CLASS_NAME}: property {what} is {number}, above the {mof_type} range (0..={max})"));
    }
    Ok(number)
}

/// A `uint8[]` property: an array of integers in `0..=255`, or null for an empty array.
fn bytes(name: &str, value: &WmiValue) -> Result<Vec<u8>, String> {
    let elements = match value {
        WmiValue::Array(elements) => elements,
        WmiValue::Null => return Ok(Vec::new()),
        other => return Err(wrong_type(name, "uint8[] (an array of bytes)", other)),
    };
    elements
        .iter()
        .enumerate()
        .map(|(index, element)| {
            let byte = integer(&format!("{name}[{index}]"), "uint8", u64::from(u8::MAX), element)?;
            u8::try_from(byte).map_err(|_| format!("{CLASS_NAME}: property {name}[{index}] is {byte}, not a byte"))
        })
        .collect()
}

/// `timestamp` (100 ns since 1601, UTC) as RFC 3339 UTC with microseconds (`nanos`: with
/// nanoseconds), or `None` before 1970 or after 9999, which RFC 3339 formatting cannot show.
pub fn rfc3339(timestamp: FileTime, nanos: bool) -> Option<String> {
    let (secs, subsec_nanos) = timestamp.to_unix();
    let secs = u64::try_from(secs).ok().filter(|&s| s <= LAST_FORMATTABLE_SECOND)?;
    let time = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))?
        .checked_add(Duration::from_nanos(u64::from(subsec_nanos)))?;
    let mut text = String::new();
    let written = if nanos {
        write!(text, "{}", humantime::format_rfc3339_nanos(time))
    } else {
        write!(text, "{}", humantime::format_rfc3339_micros(time))
    };
    written.ok().map(|()| text)
}

/// `bytes` for a line: quoted text if every byte is printable ASCII, else `hex ` and lowercase hex.
fn show_bytes(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| (0x20..=0x7E).contains(b)) {
        // Printable ASCII: `{:?}` only escapes `"` and `\`.
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        format!("hex {}", hex::encode(bytes))
    }
}

impl WmiWriteEvent {
    /// The event a WMI consumer receives for `event`, the data block the driver fires (decoded with
    /// `logbridge_core::wmi::parse_write_event`), from the device instance `instance_name`.
    pub fn from_core(instance_name: &str, event: &WriteEvent<'_>) -> WmiWriteEvent {
        WmiWriteEvent {
            instance_name: instance_name.to_string(),
            sequence: event.sequence,
            timestamp: event.timestamp.0,
            process_id: event.process_id,
            total_length: event.total_length,
            payload: event.payload.to_vec(),
        }
    }

    /// True if the event carries only the first bytes of the write (PayloadLength < TotalLength).
    pub fn is_truncated(&self) -> bool {
        u64::try_from(self.payload.len()).unwrap_or(u64::MAX) < u64::from(self.total_length)
    }

    /// One text line: sequence, time (FileTime → RFC 3339 UTC via
    /// logbridge_core::time::FileTime::to_unix and humantime), pid, total length, and the payload
    /// prefix (printable ASCII shown as text, otherwise hex, with an ellipsis marker when
    /// PayloadLength < TotalLength).
    ///
    /// For example `#9 2023-11-14T22:13:20.000000Z pid 4321 len 5 "hello"`. At most
    /// [`LINE_PAYLOAD_BYTES`] bytes are shown, followed by `...` whenever the write had more than
    /// that. A time RFC 3339 cannot show (before 1970, after 9999) is shown as `filetime N`.
    pub fn to_line(&self) -> String {
        let time = rfc3339(FileTime(self.timestamp), false).unwrap_or_else(|| format!("filetime {}", self.timestamp));
        let shown = self.payload.get(..LINE_PAYLOAD_BYTES).unwrap_or(&self.payload);
        let more = u64::try_from(shown.len()).unwrap_or(u64::MAX) < u64::from(self.total_length);
        format!(
            "#{} {time} pid {} len {} {}{}",
            self.sequence,
            self.process_id,
            self.total_length,
            show_bytes(shown),
            if more { "..." } else { "" }
        )
    }

    /// JSON object for --json (payload as lowercase hex, plus "truncated": bool).
    ///
    /// Keys: `instance_name`, `sequence`, `timestamp` (100 ns since 1601), `time` (RFC 3339 UTC with
    /// nanoseconds, or `null` when it cannot be shown), `process_id`, `total_length`,
    /// `payload_length`, `payload` (hex) and `truncated` (PayloadLength < TotalLength).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "instance_name": self.instance_name,
            "sequence": self.sequence,
            "timestamp": self.timestamp,
            "time": rfc3339(FileTime(self.timestamp), true),
            "process_id": self.process_id,
            "total_length": self.total_length,
            "payload_length": self.payload.len(),
            "payload": hex::encode(&self.payload),
            "truncated": self.is_truncated(),
        })
    }

    /// True if the payload is a prefix of `written` and total_length == written.len(): what
    /// `verify` checks.
    pub fn matches_write(&self, written: &[u8]) -> bool {
        usize::try_from(self.total_length).is_ok_and(|total| total == written.len())
            && written.starts_with(&self.payload)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use logbridge_core::wmi::{EVENT_PROPERTIES, encode_write_event, parse_wnode};
    use proptest::prelude::*;
    use serde_json::json;

    const INSTANCE: &str = "ROOT\\LOGBRIDGE\\0000_0";
    /// 2023-11-14T22:13:20Z.
    const T_1_700_000_000: u64 = 133_444_736_000_000_000;

    #[test]
    fn an_enumerator_error_ends_the_subscription_once() {
        // The wmi crate's iterator keeps yielding the error of a broken enumerator: the pump must
        // stop at the first one, not turn each into a bad event.
        let consumed = std::cell::Cell::new(0);
        let good = fire(7, T_1_700_000_000, 42, b"hi");
        let items = [Ok(good.clone()), Ok(WmiWriteEvent { sequence: 0, ..good.clone() })]
            .into_iter()
            .chain(std::iter::repeat_with(|| Err("0x800706BA: The RPC server is unavailable.")))
            .inspect(|_| consumed.set(consumed.get() + 1));
        let mut sent = Vec::new();
        // A stand-in for decode_properties: sequence 0 plays a malformed event.
        let decode =
            |event: WmiWriteEvent| if event.sequence == 0 { Err("PayloadLength".to_owned()) } else { Ok(event) };
        pump_events(items, decode, |message| {
            sent.push(message);
            true
        });
        assert_eq!(consumed.get(), 3, "the pump read past the first error");
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0], WmiMessage::Event(Ok(good)));
        assert_eq!(sent[1], WmiMessage::Event(Err("PayloadLength".to_owned())), "a bad event does not end it");
        let WmiMessage::Failed(reason) = &sent[2] else { panic!("{:?}", sent[2]) };
        assert!(reason.contains("RPC server is unavailable") && reason.contains("no more events"), "{reason}");

        // An enumerator that ends says so; a receiver that is gone stops the pump at once.
        let mut sent = Vec::new();
        pump_events(std::iter::empty::<Result<WmiWriteEvent, &str>>(), Ok, |m| {
            sent.push(m);
            true
        });
        assert!(matches!(&sent[..], [WmiMessage::Failed(r)] if r.contains("ended")));
        let consumed = std::cell::Cell::new(0);
        let endless =
            std::iter::repeat_with(|| Ok::<_, &str>(fire(1, 1, 1, b""))).inspect(|_| consumed.set(consumed.get() + 1));
        pump_events(endless, Ok, |_| false);
        assert_eq!(consumed.get(), 1);
    }

    /// Fires `write` through logbridge-core's encoder and decodes it back: the values a real event
    /// carries.
    fn fire(sequence: u64, timestamp: u64, pid: u32, write: &[u8]) -> WmiWriteEvent {
        let mut item = vec![0; 1100];
        let size = encode_write_event(&mut item, 1, FileTime(timestamp), sequence, pid, write).unwrap();
        let wnode = parse_wnode(&item[..size]).unwrap();
        let event = wnode.write_event().unwrap().unwrap();
        WmiWriteEvent::from_core(INSTANCE, &event)
    }

    /// The properties WMI hands over for `event`: 64-bit integers as strings or as integers.
    fn properties(event: &WmiWriteEvent, uint64_as_text: bool) -> Vec<(String, WmiValue)> {
        let u64_value = |v: u64| if uint64_as_text { WmiValue::Text(v.to_string()) } else { WmiValue::Unsigned(v) };
        vec![
            ("__CLASS".into(), WmiValue::Text(CLASS_NAME.into())),
            ("InstanceName".into(), WmiValue::Text(event.instance_name.clone())),
            ("Active".into(), WmiValue::Bool(true)),
            ("SequenceNumber".into(), u64_value(event.sequence)),
            ("Timestamp".into(), u64_value(event.timestamp)),
            ("ProcessId".into(), WmiValue::Unsigned(event.process_id.into())),
            ("TotalLength".into(), WmiValue::Unsigned(event.total_length.into())),
            ("PayloadLength".into(), WmiValue::Unsigned(event.payload.len() as u64)),
            ("Payload".into(), WmiValue::Array(event.payload.iter().map(|&b| WmiValue::Unsigned(b.into())).collect())),
        ]
    }

    fn with(mut properties: Vec<(String, WmiValue)>, name: &str, value: Option<WmiValue>) -> Vec<(String, WmiValue)> {
        let at = properties.iter().position(|(n, _)| n == name).unwrap();
        match value {
            Some(value) => properties[at].1 = value,
            None => {
                properties.remove(at);
            }
        }
        properties
    }

    fn hello() -> WmiWriteEvent {
        fire(9, T_1_700_000_000, 4321, b"hello")
    }

    #[test]
    fn query_and_namespace() {
        assert_eq!(EVENT_QUERY, "SELECT * FROM LogBridge_WriteEvent");
        assert_eq!(NAMESPACE, "ROOT\\WMI");
        assert!(EVENT_QUERY.ends_with(CLASS_NAME));
    }

    #[test]
    fn the_decoded_properties_are_the_mof_ones() {
        // Every data-block property of the MOF, under its name and type (a rename breaks this).
        for p in EVENT_PROPERTIES {
            let mof_type = if p.array { format!("{}[]", p.mof_type) } else { p.mof_type.to_string() };
            assert!(
                DECODED_PROPERTIES.contains(&(p.name, mof_type.as_str())),
                "{} {mof_type} is not decoded as such",
                p.name
            );
        }
        // And nothing else but the instance name.
        for (name, mof_type) in DECODED_PROPERTIES {
            let in_block = EVENT_PROPERTIES.iter().any(|p| p.name == name);
            assert!(in_block || (name, mof_type) == ("InstanceName", "string"), "{name}");
        }
        // The MOF declares them all, in this order.
        let mof = include_str!("../../../inf/logbridge.mof");
        let mut from = 0;
        for (name, mof_type) in DECODED_PROPERTIES {
            let (base, array) = mof_type.strip_suffix("[]").map_or((mof_type, ""), |b| (b, "[]"));
            let declaration = format!("{base} {name}{array};");
            let at = mof[from..].find(&declaration).unwrap_or_else(|| panic!("{declaration} not in order in the MOF"));
            from += at + declaration.len();
        }
        assert!(mof.contains(&format!("class {CLASS_NAME} : WMIEvent")));
    }

    #[test]
    fn uint64_as_string_or_integer() {
        let event = fire(u64::MAX, T_1_700_000_000 + 1234, 7, b"abc");
        assert_eq!(decode_properties(&properties(&event, true)).unwrap(), event);
        assert_eq!(decode_properties(&properties(&event, false)).unwrap(), event);
        assert_eq!(event.sequence, u64::MAX);
        // A non-negative signed integer and a string with spaces around it are fine too.
        let props = with(properties(&event, true), "SequenceNumber", Some(WmiValue::Signed(12)));
        let props = with(props, "Timestamp", Some(WmiValue::Text(" 42 ".into())));
        let decoded = decode_properties(&props).unwrap();
        assert_eq!((decoded.sequence, decoded.timestamp), (12, 42));
        // uint32 properties as strings (also a WMI form).
        let props = with(properties(&event, true), "ProcessId", Some(WmiValue::Text("4294967295".into())));
        assert_eq!(decode_properties(&props).unwrap().process_id, u32::MAX);
    }

    #[test]
    fn the_payload_array_is_decoded() {
        let write: Vec<u8> = (0..=255).collect();
        let event = fire(1, T_1_700_000_000, 1, &write);
        let decoded = decode_properties(&properties(&event, true)).unwrap();
        assert_eq!(decoded.payload, write);
        // Any integer form of the bytes.
        let mixed = WmiValue::Array(vec![WmiValue::Signed(0), WmiValue::Unsigned(255), WmiValue::Text("7".into())]);
        let props = with(properties(&fire(1, 1, 1, &[0, 255, 7]), true), "Payload", Some(mixed));
        assert_eq!(decode_properties(&props).unwrap().payload, [0, 255, 7]);
        // An empty array may arrive as null, or as an empty array.
        let empty = fire(2, 1, 1, b"");
        let props = properties(&empty, false);
        assert_eq!(decode_properties(&props).unwrap().payload, Vec::<u8>::new());
        let props = with(props, "Payload", Some(WmiValue::Null));
        assert_eq!(decode_properties(&props).unwrap(), empty);
    }

    #[test]
    fn a_large_write_is_carried_in_part() {
        let write = vec![b'x'; 5000];
        let event = fire(3, T_1_700_000_000, 1, &write);
        assert_eq!(event.payload.len(), MAX_EVENT_PAYLOAD);
        let decoded = decode_properties(&properties(&event, true)).unwrap();
        assert_eq!(decoded.total_length, 5000);
        assert!(decoded.is_truncated());
        assert!(decoded.matches_write(&write));
    }

    #[test]
    fn names_are_matched_ignoring_case() {
        let event = hello();
        let props: Vec<(String, WmiValue)> = properties(&event, true)
            .into_iter()
            .enumerate()
            .map(|(i, (n, v))| (if i % 2 == 0 { n.to_uppercase() } else { n.to_lowercase() }, v))
            .collect();
        assert!(props.iter().any(|(n, _)| n == "sequencenumber"));
        assert!(props.iter().any(|(n, _)| n == "TIMESTAMP"));
        assert_eq!(decode_properties(&props).unwrap(), event);
    }

    #[test]
    fn a_missing_property_is_named() {
        for name in
            ["InstanceName", "SequenceNumber", "Timestamp", "ProcessId", "TotalLength", "PayloadLength", "Payload"]
        {
            let err = decode_properties(&with(properties(&hello(), true), name, None)).unwrap_err();
            assert_eq!(err, format!("LogBridge_WriteEvent: property {name} is missing"));
        }
        // Active is not needed.
        assert!(decode_properties(&with(properties(&hello(), true), "Active", None)).is_ok());
    }

    #[test]
    fn a_property_of_the_wrong_type_is_named() {
        let cases = [
            ("InstanceName", WmiValue::Unsigned(1), "should be string, but it is an unsigned integer"),
            ("InstanceName", WmiValue::Null, "should be string, but it is null"),
            ("SequenceNumber", WmiValue::Bool(true), "should be uint64 (an integer), but it is a boolean"),
            ("Timestamp", WmiValue::Other, "should be uint64 (an integer), but it is a value of another type"),
            ("ProcessId", WmiValue::Null, "should be uint32 (an integer), but it is null"),
            ("TotalLength", WmiValue::Array(vec![]), "should be uint32 (an integer), but it is an array"),
            (
                "Payload",
                WmiValue::Text("68656c6c6f".into()),
                "should be uint8[] (an array of bytes), but it is a string",
            ),
            ("Payload", WmiValue::Array(vec![WmiValue::Bool(false)]), "Payload[0] should be uint8 (an integer)"),
            ("SequenceNumber", WmiValue::Text("12ab".into()), "is the string \"12ab\", not a decimal uint64"),
            ("SequenceNumber", WmiValue::Text("-1".into()), "is the string \"-1\", not a decimal uint64"),
            ("Timestamp", WmiValue::Text(String::new()), "is the string \"\", not a decimal uint64"),
        ];
        for (name, value, message) in cases {
            let err = decode_properties(&with(properties(&hello(), true), name, Some(value.clone()))).unwrap_err();
            assert!(err.starts_with(&format!("LogBridge_WriteEvent: property {name}")), "{name} {value:?}: {err}");
            assert!(err.contains(message), "{name} {value:?}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let cases = [
            (
                "Payload",
                WmiValue::Array(vec![WmiValue::Unsigned(104), WmiValue::Unsigned(256)]),
                "Payload[1] is 256, above the uint8 range (0..=255)",
            ),
            ("Payload", WmiValue::Array(vec![WmiValue::Signed(-1)]), "Payload[0] is -1, but uint8 cannot be negative"),
            ("SequenceNumber", WmiValue::Signed(-1), "SequenceNumber is -1, but uint64 cannot be negative"),
            (
                "ProcessId",
                WmiValue::Signed(i64::MIN),
                "ProcessId is -9223372036854775808, but uint32 cannot be negative",
            ),
            ("TotalLength", WmiValue::Unsigned(1 << 32), "TotalLength is 4294967296, above the uint32 range"),
            (
                "PayloadLength",
                WmiValue::Text("4294967296".into()),
                "PayloadLength is 4294967296, above the uint32 range",
            ),
            (
                "Timestamp",
                WmiValue::Text("18446744073709551616".into()),
                "Timestamp is 18446744073709551616, above the uint64 range",
            ),
        ];
        for (name, value, message) in cases {
            let err = decode_properties(&with(properties(&hello(), false), name, Some(value.clone()))).unwrap_err();
            assert!(err.contains(message), "{name} {value:?}: {err}");
        }
    }

    #[test]
    fn inconsistent_lengths_are_refused() {
        let props = with(properties(&hello(), true), "PayloadLength", Some(WmiValue::Unsigned(4)));
        assert_eq!(
            decode_properties(&props).unwrap_err(),
            "LogBridge_WriteEvent: PayloadLength is 4 but Payload has 5 bytes"
        );
        let props = with(properties(&hello(), true), "TotalLength", Some(WmiValue::Unsigned(4)));
        assert_eq!(
            decode_properties(&props).unwrap_err(),
            "LogBridge_WriteEvent: PayloadLength 5 exceeds TotalLength 4"
        );
        // Null payload with a non-zero length.
        let props = with(properties(&hello(), true), "Payload", Some(WmiValue::Null));
        assert!(decode_properties(&props).unwrap_err().contains("PayloadLength is 5 but Payload has 0 bytes"));
        // More than an event can carry.
        let big = WmiWriteEvent { payload: vec![1; MAX_EVENT_PAYLOAD + 1], total_length: 5000, ..hello() };
        assert_eq!(
            decode_properties(&properties(&big, true)).unwrap_err(),
            "LogBridge_WriteEvent: PayloadLength 933 exceeds the 932 bytes an event carries"
        );
        let most = WmiWriteEvent { payload: vec![1; MAX_EVENT_PAYLOAD], total_length: 5000, ..hello() };
        assert!(decode_properties(&properties(&most, true)).is_ok());
    }

    #[test]
    fn a_line_shows_sequence_time_pid_length_and_payload() {
        assert_eq!(hello().to_line(), "#9 2023-11-14T22:13:20.000000Z pid 4321 len 5 \"hello\"");
        // Sub-second time, quotes escaped.
        let event = fire(10, T_1_700_000_000 + 1_234_567, 1, b"say \"hi\"");
        assert_eq!(event.to_line(), "#10 2023-11-14T22:13:20.123456Z pid 1 len 8 \"say \\\"hi\\\"\"");
        // Not printable: hex.
        assert_eq!(
            fire(11, T_1_700_000_000, 2, b"a\nb\xff").to_line(),
            "#11 2023-11-14T22:13:20.000000Z pid 2 len 4 hex 610a62ff"
        );
        // Empty.
        assert_eq!(fire(12, T_1_700_000_000, 2, b"").to_line(), "#12 2023-11-14T22:13:20.000000Z pid 2 len 0 \"\"");
    }

    #[test]
    fn a_line_marks_a_partial_payload() {
        // The event carries 932 of 5000 bytes; the line shows 64 of them, then the marker.
        let line = fire(1, T_1_700_000_000, 1, &[b'z'; 5000]).to_line();
        assert!(line.ends_with(&format!("len 5000 \"{}\"...", "z".repeat(LINE_PAYLOAD_BYTES))), "{line}");
        // Cut by the driver, but shorter than the line's limit.
        let cut = WmiWriteEvent { total_length: 10, ..hello() };
        assert!(cut.to_line().ends_with("len 10 \"hello\"..."), "{}", cut.to_line());
        let cut = WmiWriteEvent { total_length: 10, payload: vec![0, 1], ..hello() };
        assert!(cut.to_line().ends_with("len 10 hex 0001..."), "{}", cut.to_line());
        // A whole write of exactly the line's limit: no marker.
        let whole = fire(1, T_1_700_000_000, 1, &[b'q'; LINE_PAYLOAD_BYTES]).to_line();
        assert!(whole.ends_with('"'), "{whole}");
    }

    #[test]
    fn times_rfc3339_cannot_show_are_raw() {
        let early = WmiWriteEvent { timestamp: 0, ..hello() };
        assert!(early.to_line().starts_with("#9 filetime 0 pid 4321"), "{}", early.to_line());
        let late = WmiWriteEvent { timestamp: u64::MAX, ..hello() };
        assert!(late.to_line().contains(&format!("filetime {}", u64::MAX)), "{}", late.to_line());
        assert_eq!(late.to_json()["time"], serde_json::Value::Null);
        assert_eq!(rfc3339(FileTime(116_444_736_000_000_000), false).as_deref(), Some("1970-01-01T00:00:00.000000Z"));
        assert_eq!(rfc3339(FileTime(116_444_736_000_000_000 - 1), false), None);
        // The last formattable 100 ns and the first one after it.
        let last = FileTime::from_unix(253_402_300_799, 999_999_900).unwrap();
        assert_eq!(rfc3339(last, true).as_deref(), Some("9999-12-31T23:59:59.999999900Z"));
        assert_eq!(rfc3339(FileTime(last.0 + 1), true), None);
    }

    #[test]
    fn json_has_hex_payload_and_truncated() {
        let event = fire(9, T_1_700_000_000 + 1, 4321, b"hello");
        assert_eq!(
            event.to_json(),
            json!({
                "instance_name": INSTANCE, "sequence": 9, "timestamp": T_1_700_000_000 + 1,
                "time": "2023-11-14T22:13:20.000000100Z", "process_id": 4321, "total_length": 5,
                "payload_length": 5, "payload": "68656c6c6f", "truncated": false,
            })
        );
        let big = fire(u64::MAX, T_1_700_000_000, 1, &[0xAB; 1000]).to_json();
        assert_eq!(big["truncated"], json!(true));
        assert_eq!(big["sequence"], json!(u64::MAX));
        assert_eq!(big["total_length"], json!(1000));
        assert_eq!(big["payload_length"], json!(MAX_EVENT_PAYLOAD));
        assert_eq!(big["payload"], json!("ab".repeat(MAX_EVENT_PAYLOAD)));
    }

    #[test]
    fn matches_write_checks_prefix_and_total_length() {
        let event = hello();
        assert!(event.matches_write(b"hello"));
        assert!(!event.matches_write(b"hellO"));
        assert!(!event.matches_write(b"hello!"));
        assert!(!event.matches_write(b"hell"));
        let write: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let big = fire(1, 1, 1, &write);
        assert!(big.matches_write(&write));
        let mut other = write.clone();
        other[MAX_EVENT_PAYLOAD - 1] ^= 1; // inside the carried prefix
        assert!(!big.matches_write(&other));
        let mut other = write.clone();
        other[MAX_EVENT_PAYLOAD] ^= 1; // after it: the event cannot tell
        assert!(big.matches_write(&other));
        assert!(!big.matches_write(&write[..1999]));
        let empty = fire(1, 1, 1, b"");
        assert!(empty.matches_write(b""));
        assert!(!empty.matches_write(b"x"));
    }

    proptest! {
        #[test]
        fn every_fired_event_decodes(seq in any::<u64>(), ts in 0..=i64::MAX as u64, pid in any::<u32>(),
                                     write in proptest::collection::vec(any::<u8>(), 0..1200), text in any::<bool>()) {
            let event = fire(seq, ts, pid, &write);
            let decoded = decode_properties(&properties(&event, text)).unwrap();
            prop_assert!(decoded.matches_write(&write));
            prop_assert!(!decoded.to_line().contains('\n'));
            prop_assert_eq!(decoded, event);
        }

        #[test]
        fn decoding_never_panics(values in proptest::collection::vec(
            prop_oneof![
                Just(WmiValue::Null),
                any::<bool>().prop_map(WmiValue::Bool),
                any::<u64>().prop_map(WmiValue::Unsigned),
                any::<i64>().prop_map(WmiValue::Signed),
                "\\PC{0,8}".prop_map(WmiValue::Text),
                proptest::collection::vec(any::<i64>().prop_map(WmiValue::Signed), 0..4).prop_map(WmiValue::Array),
            ], 7)) {
            let props: Vec<(String, WmiValue)> =
                DECODED_PROPERTIES.iter().map(|(n, _)| n.to_string()).zip(values).collect();
            if let Ok(event) = decode_properties(&props) {
                let _ = (event.to_line(), event.to_json());
            }
        }
    }
}
