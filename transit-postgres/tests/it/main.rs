//! The integration tests of transit-postgres, one test binary: the station loader and source
//! against a real PostgreSQL, in plain text and over TLS.

mod postgres_source;
mod postgres_tls;
