//! What the PostgreSQL tests share: reaching the test database (the local cluster, or
//! `TRANSIT_TEST_POSTGRES_URL`), failing with how to start it when it is not there (the tests
//! never skip), and a schema of the test's own in it.

use tokio_postgres::{Client, Config};

/// The environment variable naming the test database.
pub const POSTGRES_VAR: &str = "TRANSIT_TEST_POSTGRES_URL";

/// The test database's URL: [`POSTGRES_VAR`], or `default`.
pub fn url(default: &str) -> String {
    std::env::var(POSTGRES_VAR).unwrap_or_else(|_| default.to_string())
}

/// Parses `url` and connects to it, failing with how to start PostgreSQL if it is not
/// reachable. Returns the settings and the client.
pub async fn connect(url: &str) -> (Config, Client) {
    let config: Config = url
        .parse()
        .unwrap_or_else(|e| panic!("{POSTGRES_VAR} {url:?} does not parse: {e}"));
    let client = transit_postgres::connect(&config)
        .await
        .unwrap_or_else(|error| {
            let error = transit_core::error_chain(&error);
            panic!(
                "PostgreSQL is not reachable at {url}: {error}. These tests need a \
                 real PostgreSQL and do not skip: start the local cluster with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or point {POSTGRES_VAR} at one."
            )
        });
    (config, client)
}

/// Creates schema `schema` (a name unique to the test).
pub async fn create_schema(admin: &Client, schema: &str) {
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
}
