//! The REST Proxy v2 produce API's JSON answers and content types, shared by the server and
//! the client so the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// Requests whose records are Avro in Avro's JSON encoding, with a schema or schema id.
pub const AVRO_V2: &str = "application/vnd.kafka.avro.v2+json";
/// Requests whose records are arbitrary JSON, published as their JSON bytes.
pub const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
/// Requests whose records are base64 bytes (recognised, and answered 415: not supported).
pub const BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";
/// The content type of every answer, success or error.
pub const V2_JSON: &str = "application/vnd.kafka.v2+json";

/// The answer to a produce request: the schema ids used, and where each record landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceResponse {
    /// The id of the key schema the records were written with; `null` for JSON records.
    pub key_schema_id: Option<u32>,
    /// The id of the value schema the records were written with; `null` for JSON records.
    pub value_schema_id: Option<u32>,
    /// One entry per record of the request, in request order.
    pub offsets: Vec<PartitionOffset>,
}

impl ProduceResponse {
    /// The entries of records the bus failed, with their index in the request.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &PartitionOffset)> {
        self.offsets
            .iter()
            .enumerate()
            .filter(|(_, offset)| offset.error_code.is_some())
    }
}

/// Where one record landed, or why the bus failed it.
///
/// A stored record has `partition` and `offset`; a failed one has `error_code` (50002, or
/// 50003 when a retry may succeed) and `error`. A record the bus stored without telling where
/// (it failed others of the same batch) has neither: it is stored, at an unknown position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    /// The partition the record was appended to.
    pub partition: Option<u32>,
    /// Its offset in that partition.
    pub offset: Option<u64>,
    /// Confluent's error code when the bus failed the record.
    pub error_code: Option<u32>,
    /// Why the bus failed the record.
    pub error: Option<String>,
}

/// Confluent's error JSON: `{"error_code": 42203, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The HTTP status, or the status times 100 plus a sub-code (42201, 40401...).
    pub error_code: u32,
    /// What went wrong, for a person.
    pub message: String,
}
