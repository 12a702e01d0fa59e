//! What the PostgreSQL tests share: reaching the test database (the local cluster, or
//! `TRANSIT_TEST_POSTGRES_URL`), failing with how to start it when it is not there (the tests
//! never skip), and a schema of the test's own in it.

use std::path::PathBuf;

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

/// The environment variable naming the directory of `scripts/postgres.sh`'s TLS files.
pub const TLS_DIR_VAR: &str = "TRANSIT_TEST_POSTGRES_TLS_DIR";

/// Where `scripts/postgres.sh` puts its TLS files unless [`TLS_DIR_VAR`] says otherwise.
pub const DEFAULT_TLS_DIR: &str = "/var/lib/postgresql/transit-tls";

/// The role `scripts/postgres.sh` lets in over TLS only, with a SCRAM-SHA-256 password.
pub const TLS_ROLE: &str = "transit_tls";

/// The test cluster's TLS set-up, as `scripts/postgres.sh` makes it: its CA (`ca.crt`), a CA
/// that signed nothing (`wrong-ca.crt`) and the password of [`TLS_ROLE`].
#[derive(Debug, Clone)]
pub struct Tls {
    /// The directory of the files.
    pub dir: PathBuf,
    /// The role's password.
    pub password: String,
}

impl Tls {
    /// Reads the set-up, failing with how to make it when it is missing (the tests never skip).
    pub fn load() -> Self {
        let dir = PathBuf::from(
            std::env::var(TLS_DIR_VAR).unwrap_or_else(|_| DEFAULT_TLS_DIR.to_string()),
        );
        let file = dir.join("password");
        let password = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. These tests need PostgreSQL with TLS and the role {TLS_ROLE}: run \
                 `scripts/postgres.sh` (it makes the certificates and the role); they do not \
                 skip.",
                file.display()
            )
        });
        Self {
            dir,
            password: password.trim().to_string(),
        }
    }

    /// The CA certificate that signed the server's.
    pub fn ca(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }

    /// A CA certificate that signed nothing the server has.
    pub fn wrong_ca(&self) -> String {
        self.dir.join("wrong-ca.crt").display().to_string()
    }

    /// A URL for [`TLS_ROLE`] on `host` (port 5432, database `postgres`), with `query`.
    pub fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://{TLS_ROLE}:{}@{host}:5432/postgres?{query}",
            self.password
        )
    }

    /// A URL for [`TLS_ROLE`] with the certificate checked in full (`sslmode=verify-full`).
    pub fn verify_full_url(&self) -> String {
        self.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", self.ca()),
        )
    }
}
