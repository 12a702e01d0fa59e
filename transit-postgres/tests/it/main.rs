//! The integration tests of transit-postgres, one test binary: the station loader and source
//! against a real PostgreSQL.

mod postgres_source;
