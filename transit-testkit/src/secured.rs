//! The schema registry and the REST Proxy (`transit registry`) as a secured deployment runs
//! them, for tests that start them as processes: HTTPS with a test CA's certificate
//! ([`TestCertificates`]), and HTTP basic auth with a read-write user for the pipeline's
//! processes and a read-only one. Every secret is in a file of mode 600 (the users file, the
//! clients' `user:password` file), never on a command line.
//!
//! The passwords are new each time. With `TRANSIT_TEST_SECRETS_DIR` set ([`SECRETS_VAR`]), the
//! secrets' directory is made there and kept, with each password alone in a `*.password` file:
//! `scripts/test.sh` then searches every log of the run for them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use transit_http::{ClientSecurity, UserInfo};

use crate::tls::TestCertificates;

/// A directory to make the secrets in and keep (`scripts/test.sh` greps the logs for them).
pub const SECRETS_VAR: &str = "TRANSIT_TEST_SECRETS_DIR";

/// The read-write user the pipeline's processes log in as.
pub const WRITER: &str = "pipeline";
/// The read-only user.
pub const READER: &str = "viewer";

/// A certificate, users and the files holding them, for one test's `transit registry`.
#[derive(Debug)]
pub struct SecuredServices {
    /// The CA, and the servers' certificate and key.
    pub certs: TestCertificates,
    /// Where the secrets' files are (mode 700).
    pub dir: PathBuf,
    /// `transit registry --users-file`: `name: password,role` lines.
    pub users_file: PathBuf,
    /// The writer's `user:password`, for the clients' `--*-user-info-file`.
    pub writer_user_info: PathBuf,
    writer_password: String,
    reader_password: String,
    keep: bool,
}

/// A random password: 24 characters from the system's random source.
fn password() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .expect("reading /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_secret(path: &Path, text: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

impl SecuredServices {
    /// A new certificate, new passwords, and their files.
    pub fn generate() -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let kept = std::env::var_os(SECRETS_VAR).map(PathBuf::from);
        let base = kept.clone().unwrap_or_else(std::env::temp_dir);
        let dir = base.join(transit_core::testing::unique_name(
            "transit-service-secrets",
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("making {} private: {e}", dir.display()));
        let (writer_password, reader_password) = (password(), password());
        let users_file = dir.join("users");
        write_secret(
            &users_file,
            &format!("{WRITER}: {writer_password},write\n{READER}: {reader_password},read\n"),
        );
        let writer_user_info = dir.join("writer.user-info");
        write_secret(&writer_user_info, &format!("{WRITER}:{writer_password}\n"));
        // Each password alone in a file, for `grep -F -f`.
        write_secret(&dir.join("writer.password"), &writer_password);
        write_secret(&dir.join("reader.password"), &reader_password);
        Self {
            certs: TestCertificates::generate(),
            dir,
            users_file,
            writer_user_info,
            writer_password,
            reader_password,
            keep: kept.is_some(),
        }
    }

    /// The passwords, for a test that searches what it saw for them.
    pub fn passwords(&self) -> [&str; 2] {
        [&self.writer_password, &self.reader_password]
    }

    /// `transit registry`'s flags: the certificate, its key and the users file.
    pub fn server_args(&self) -> Vec<String> {
        [
            ("--tls-cert", &self.certs.cert),
            ("--tls-key", &self.certs.key),
            ("--users-file", &self.users_file),
        ]
        .into_iter()
        .flat_map(|(flag, path)| [flag.to_string(), path.display().to_string()])
        .collect()
    }

    /// A client process's flags for the registry (`--registry-url` and its CA and writer).
    pub fn registry_client_args(&self, address: SocketAddr) -> Vec<String> {
        vec![
            "--registry-url".into(),
            Self::url(address),
            "--registry-ca".into(),
            self.certs.ca.display().to_string(),
            "--registry-user-info-file".into(),
            self.writer_user_info.display().to_string(),
        ]
    }

    /// `transit produce`'s flags for the REST Proxy (`--rest-proxy-url` and its CA and writer).
    pub fn rest_proxy_client_args(&self, address: SocketAddr) -> Vec<String> {
        vec![
            "--rest-proxy-url".into(),
            Self::url(address),
            "--rest-proxy-ca".into(),
            self.certs.ca.display().to_string(),
            "--rest-proxy-user-info-file".into(),
            self.writer_user_info.display().to_string(),
        ]
    }

    /// The `https://` URL of a server listening on `address` (a loopback port): by the name
    /// the certificate is for.
    pub fn url(address: SocketAddr) -> String {
        format!("https://localhost:{}", address.port())
    }

    /// How the test's own clients reach the servers: the CA, and the writer.
    pub fn client_security(&self) -> ClientSecurity {
        ClientSecurity::none()
            .with_ca_file(&self.certs.ca)
            .with_user_info(
                UserInfo::parse(&format!("{WRITER}:{}", self.writer_password), "the test")
                    .expect("a user info"),
            )
    }

    /// The status of `GET path` as the writer, over HTTPS; `None` when the server does not
    /// answer (not up yet).
    pub async fn status(&self, address: SocketAddr, path: &str) -> Option<u16> {
        let security = self.client_security();
        let client = security
            .client_builder()
            .expect("a client trusting the test CA")
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTPS client");
        let request = security.authorize(client.get(format!("{}{path}", Self::url(address))));
        request
            .send()
            .await
            .ok()
            .map(|response| response.status().as_u16())
    }

    /// Fails if `text` (a log, a page, an error) shows one of the passwords.
    pub fn assert_hidden_in(&self, what: &str, text: &str) {
        for password in self.passwords() {
            assert!(
                !text.contains(password),
                "{what} shows a registry user's password"
            );
        }
    }
}

impl Drop for SecuredServices {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
