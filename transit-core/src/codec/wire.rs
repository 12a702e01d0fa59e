use super::{DecodeError, SchemaId};

/// The first byte of every Confluent-framed record.
pub const MAGIC_BYTE: u8 = 0;

/// Appends the Confluent header for `id` to `buf`: what precedes the Avro body.
pub fn write_header(buf: &mut Vec<u8>, id: SchemaId) {
    buf.push(MAGIC_BYTE);
    buf.extend_from_slice(&id.0.to_be_bytes());
}

/// Splits Confluent-framed bytes into the schema id and the Avro body.
pub fn split_header(bytes: &[u8]) -> Result<(SchemaId, &[u8]), DecodeError> {
    match bytes {
        [] => Err(DecodeError::Empty),
        [magic, ..] if *magic != MAGIC_BYTE => Err(DecodeError::BadMagic { found: *magic }),
        [_, a, b, c, d, body @ ..] => Ok((SchemaId(u32::from_be_bytes([*a, *b, *c, *d])), body)),
        _ => Err(DecodeError::TooShort { len: bytes.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut buf = Vec::new();
        write_header(&mut buf, SchemaId(0x0102_0304));
        buf.push(42);
        assert_eq!(buf, [0, 1, 2, 3, 4, 42]);
        assert_eq!(
            split_header(&buf).unwrap(),
            (SchemaId(0x0102_0304), &[42u8][..])
        );
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        assert!(matches!(split_header(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            split_header(&[1, 0, 0, 0, 1]),
            Err(DecodeError::BadMagic { found: 1 })
        ));
        assert!(matches!(
            split_header(&[0, 0, 1]),
            Err(DecodeError::TooShort { len: 3 })
        ));
    }
}
