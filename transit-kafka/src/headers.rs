//! Record headers between the bus's [`Header`]s and librdkafka's: what the plain producer, the
//! transactional producer and the consumer all convert, kept apart from each of them.

use bytes::Bytes;
use rdkafka::message::{BorrowedHeaders, Header as KafkaHeader, Headers as _, OwnedHeaders};
use transit_core::bus::{Header, Record};

/// The headers of `record` as librdkafka takes them; `None` when it has none.
pub(crate) fn to_kafka(record: &Record) -> Option<OwnedHeaders> {
    if record.headers.is_empty() {
        return None;
    }
    let headers = record.headers.iter().fold(
        OwnedHeaders::new_with_capacity(record.headers.len()),
        |headers, header| {
            headers.insert(KafkaHeader {
                key: &header.name,
                value: Some(header.value.as_ref()),
            })
        },
    );
    Some(headers)
}

/// A consumed message's headers as the bus's (a header without a value reads as empty).
pub(crate) fn from_kafka(headers: Option<&BorrowedHeaders>) -> Vec<Header> {
    headers
        .map(|headers| {
            headers
                .iter()
                .map(|header| Header {
                    name: header.key.to_string(),
                    value: header.value.map(Bytes::copy_from_slice).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}
