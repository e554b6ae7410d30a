//! Receiving `LogBridge_WriteEvent` from root\wmi with the `wmi` crate. Decoding, and what an
//! enumerator error means ([`wmi_event::pump_events`]), are in [`crate::wmi_event`].

use crate::error::CtlError;
use crate::wmi_event::{self, WmiMessage, WmiValue};
use std::sync::mpsc;
use std::time::Duration;
use wmi::{Variant, WMIConnection};

/// Converts a `wmi::Variant` into the portable value.
fn value_of(variant: Variant) -> WmiValue {
    match variant {
        Variant::Empty | Variant::Null => WmiValue::Null,
        Variant::Bool(b) => WmiValue::Bool(b),
        Variant::String(s) => WmiValue::Text(s),
        Variant::UI1(v) => WmiValue::Unsigned(u64::from(v)),
        Variant::UI2(v) => WmiValue::Unsigned(u64::from(v)),
        Variant::UI4(v) => WmiValue::Unsigned(u64::from(v)),
        Variant::UI8(v) => WmiValue::Unsigned(v),
        Variant::I1(v) => WmiValue::Signed(i64::from(v)),
        Variant::I2(v) => WmiValue::Signed(i64::from(v)),
        Variant::I4(v) => WmiValue::Signed(i64::from(v)),
        Variant::I8(v) => WmiValue::Signed(v),
        Variant::Array(items) => WmiValue::Array(items.into_iter().map(value_of).collect()),
        _ => WmiValue::Other,
    }
}

/// Subscribes on a thread of its own (a WMI connection belongs to the thread that made it) and
/// returns the channel it reports on. The caller waits for [`WmiMessage::Subscribed`] before
/// writing, so that no event of its own writes is missed.
pub fn subscribe() -> mpsc::Receiver<WmiMessage> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let connection = match WMIConnection::with_namespace_path(wmi_event::NAMESPACE) {
            Ok(connection) => connection,
            Err(e) => {
                let _ = sender.send(WmiMessage::Failed(format!("cannot connect to {}: {e}", wmi_event::NAMESPACE)));
                return;
            }
        };
        let events = match connection.exec_notification_query(wmi_event::EVENT_QUERY) {
            Ok(events) => events,
            Err(e) => {
                let _ = sender.send(WmiMessage::Failed(format!(
                    "cannot subscribe ({}): {e}; is the LogBridge driver installed (its MOF registers the class)?",
                    wmi_event::EVENT_QUERY
                )));
                return;
            }
        };
        if sender.send(WmiMessage::Subscribed).is_err() {
            return;
        }
        // An error from the enumerator ends the subscription (one Failed message); an event whose
        // properties do not decode is reported and the subscription goes on.
        let decode = |object: wmi::IWbemClassWrapper| {
            let names = object.list_properties().map_err(|e| e.to_string())?;
            let mut properties = Vec::with_capacity(names.len());
            for name in names {
                let value = object.get_property(&name).map_err(|e| format!("{name}: {e}"))?;
                properties.push((name, value_of(value)));
            }
            wmi_event::decode_properties(&properties)
        };
        wmi_event::pump_events(events, decode, |message| sender.send(message).is_ok());
    });
    receiver
}

/// Waits for the subscription to be registered (or to fail) for up to `timeout`.
pub fn wait_subscribed(receiver: &mpsc::Receiver<WmiMessage>, timeout: Duration) -> Result<(), CtlError> {
    match receiver.recv_timeout(timeout) {
        Ok(WmiMessage::Subscribed) => Ok(()),
        Ok(WmiMessage::Failed(message)) => Err(CtlError::Failed(message)),
        Ok(WmiMessage::Event(_)) => Ok(()),
        Err(_) => Err(CtlError::Failed(format!(
            "the WMI subscription to {} was not registered within {} s",
            wmi_event::EVENT_QUERY,
            timeout.as_secs()
        ))),
    }
}
