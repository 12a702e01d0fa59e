//! HTTPS and HTTP basic auth for the schema registry and the REST Proxy, as Confluent runs
//! them: a certificate and key in PEM files (rustls, aws-lc-rs), and users from a Jetty-style file
//! (`name: password,role`, as Confluent's `basic.auth` realm reads) or the environment, each
//! with read-only or read-write rights.
//!
//! A request without credentials, or with wrong ones, is answered 401 with Confluent's error
//! JSON (`{"error_code":401,"message":"Unauthorized"}`) and `WWW-Authenticate: Basic`; a
//! read-only user asking to change something is answered 403. Passwords are kept only in this
//! module's [`Users`], whose `Debug` shows names and roles, never passwords, and no error or
//! log line quotes one.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a client may take over its TLS handshake before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the security settings could not be loaded. No variant holds a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// A file could not be read.
    #[error("reading {what} {path}")]
    Read {
        /// What the file is: the certificate, the key, the users file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate and key (a key that does not match, an unsupported key
    /// type...).
    #[error("the certificate {cert} and key {key} cannot serve TLS")]
    Tls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// A line of the users file is not `name: password,role`. The line is named by number
    /// only: it holds a password.
    #[error("{source_name} line {line}: {reason}")]
    User {
        /// The file, or the environment variable.
        source_name: String,
        /// The line's number, from 1.
        line: usize,
        /// What is wrong (never quoting the line).
        reason: String,
    },
}

/// A certificate chain and key to serve HTTPS with.
#[derive(Clone)]
pub struct TlsIdentity {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// The certificate chain in `cert` (PEM, the server's certificate first) and its private
    /// key in `key` (PEM: PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, SecurityError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| SecurityError::Read {
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        let cert_pem = read("the TLS certificate", cert)?;
        let key_pem = read("the TLS key", key)?;
        let pem_error = |path: &Path, reason: String| SecurityError::Pem {
            path: path.to_path_buf(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| pem_error(cert, format!("not a PEM certificate: {error}")))?;
        if chain.is_empty() {
            return Err(pem_error(cert, "no certificate in the file".into()));
        }
        // The key's own error could quote nothing secret, but say only what kind it is.
        let private = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|_| pem_error(key, "no PEM private key in the file".into()))?;
        // aws-lc-rs, the provider reqwest's rustls (the clients) uses too.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder
                    .with_no_client_auth()
                    .with_single_cert(chain, private)
            })
            .map_err(|source| SecurityError::Tls {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                source,
            })?;
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads only: `GET`, and the registry's lookups and compatibility checks.
    ReadOnly,
    /// Reads and writes: registering, configuring, deleting, producing.
    ReadWrite,
}

impl Role {
    /// The role a users file names: `read` / `readonly` / `read-only` or `write` /
    /// `readwrite` / `read-write` / `admin`.
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" | "readonly" | "read-only" | "read_only" => Some(Self::ReadOnly),
            "write" | "readwrite" | "read-write" | "read_write" | "admin" => Some(Self::ReadWrite),
            _ => None,
        }
    }
}

struct User {
    password: String,
    role: Role,
}

/// The users allowed in, with their passwords and roles. Its `Debug` lists names and roles
/// only.
#[derive(Default, Clone)]
pub struct Users {
    users: Arc<HashMap<String, User>>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self
            .users
            .iter()
            .map(|(name, user)| (name.as_str(), user.role))
            .collect();
        names.sort_unstable_by_key(|(name, _)| *name);
        f.debug_struct("Users").field("users", &names).finish()
    }
}

impl Users {
    /// Reads a Jetty-style users file, as Confluent's `basic.auth` realm does: one
    /// `name: password,role[,role...]` a line, `#` comments and blank lines skipped. A user with
    /// any write role may write; one with only read roles may only read. Jetty's `MD5:` and
    /// `CRYPT:` password forms are refused (only plain passwords are taken: keep the file
    /// readable by the service alone).
    pub fn from_file(path: &Path) -> Result<Self, SecurityError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecurityError::Read {
            what: "the users file",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses the users of `text` (the form [`Self::from_file`] reads); `source_name` names it
    /// in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, SecurityError> {
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason: &str| SecurityError::User {
                source_name: source_name.to_string(),
                line: index + 1,
                reason: reason.to_string(),
            };
            let (name, rest) = line
                .split_once(':')
                .ok_or_else(|| error("expected `name: password,role`"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(error("the user name is empty"));
            }
            let mut parts = rest.split(',');
            let password = parts.next().unwrap_or_default().trim();
            if password.is_empty() {
                return Err(error("the password is empty"));
            }
            if password.starts_with("MD5:")
                || password.starts_with("CRYPT:")
                || password.starts_with("OBF:")
            {
                return Err(error(
                    "hashed and obfuscated passwords (MD5:, CRYPT:, OBF:) are not supported",
                ));
            }
            let mut role = None;
            for text in parts {
                let named =
                    Role::parse(text).ok_or_else(|| error("unknown role (use read or write)"))?;
                role = Some(match (role, named) {
                    (Some(Role::ReadWrite), _) | (_, Role::ReadWrite) => Role::ReadWrite,
                    _ => Role::ReadOnly,
                });
            }
            let role = role.ok_or_else(|| error("no role (use read or write)"))?;
            if users
                .insert(
                    name.to_string(),
                    User {
                        password: password.to_string(),
                        role,
                    },
                )
                .is_some()
            {
                return Err(error("the user is listed twice"));
            }
        }
        Ok(Self {
            users: Arc::new(users),
        })
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none (then nobody gets in).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The role of the user an `Authorization: Basic` header names, if its password is right.
    fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<Role> {
        let value = authorization?.to_str().ok()?;
        let (scheme, encoded) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (name, password) = decoded.split_once(':')?;
        let user = self.users.get(name)?;
        super::constant_time_eq(password.as_bytes(), user.password.as_bytes()).then_some(user.role)
    }
}

/// Which requests change something: what a read-only user may not send.
pub type IsWrite = fn(&Method, &str) -> bool;

/// How a server is reached: TLS or not, users or not.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Serve HTTPS with this identity; plain HTTP without.
    pub tls: Option<TlsIdentity>,
    /// Ask for HTTP basic auth of these users; let everyone in without.
    pub users: Option<Users>,
}

impl Security {
    /// Plain HTTP, nobody asked for credentials (what a server on a private address runs).
    pub fn open() -> Self {
        Self::default()
    }

    /// Whether connections are HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

#[derive(Clone)]
pub(crate) struct AuthState {
    pub(crate) users: Users,
    pub(crate) is_write: IsWrite,
    pub(crate) content_type: &'static str,
}

/// Lets a request through if its credentials are right and its user may do what it asks.
pub(crate) async fn authorize(
    State(state): State<AuthState>,
    request: Request,
    next: Next,
) -> Response {
    let role = state
        .users
        .authenticate(request.headers().get(header::AUTHORIZATION));
    match role {
        None => {
            tracing::debug!(method = %request.method(), path = request.uri().path(), "request without valid credentials refused");
            let mut answer = super::json_response(
                StatusCode::UNAUTHORIZED,
                state.content_type,
                &serde_json::json!({ "error_code": 401, "message": "Unauthorized" }),
            );
            answer.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"transit\""),
            );
            answer
        }
        Some(Role::ReadOnly) if (state.is_write)(request.method(), request.uri().path()) => {
            super::json_response(
                StatusCode::FORBIDDEN,
                state.content_type,
                &serde_json::json!({
                    "error_code": 403,
                    "message": "Forbidden: this user may only read",
                }),
            )
        }
        Some(_) => next.run(request).await.into_response(),
    }
}

/// TCP connections that finished their TLS handshake, as axum's listener: handshakes run in
/// tasks of their own, so a slow or silent client holds up nobody else.
pub(crate) struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `listener` and shakes hands with `identity` until `shutdown`.
    pub(crate) fn new(
        server: &'static str,
        listener: TcpListener,
        identity: &TlsIdentity,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::clone(&identity.config));
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = shutdown.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: pause rather than spin.
                        tracing::warn!(server, %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(server, %peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(server, %peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended (shutdown): no connection will come again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn a_jetty_users_file_gives_roles() {
        let users = Users::parse(
            "users",
            "# comment\n\nalice: s3cret,write\nbob:pa:ss, read\ncarol: pw,read,admin\n",
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(
            users.authenticate(Some(&basic("alice:s3cret"))),
            Some(Role::ReadWrite)
        );
        assert_eq!(
            users.authenticate(Some(&basic("bob:pa:ss"))),
            Some(Role::ReadOnly)
        );
        assert_eq!(
            users.authenticate(Some(&basic("carol:pw"))),
            Some(Role::ReadWrite)
        );
        assert_eq!(users.authenticate(Some(&basic("alice:wrong"))), None);
        assert_eq!(users.authenticate(Some(&basic("nobody:s3cret"))), None);
        assert_eq!(users.authenticate(None), None);
        assert_eq!(
            users.authenticate(Some(&HeaderValue::from_static("Bearer x"))),
            None
        );
        let shown = format!("{users:?}");
        assert!(
            shown.contains("alice") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn bad_lines_are_named_by_number_without_their_text() {
        for (text, reason) in [
            ("alice s3cret", "expected"),
            ("alice: s3cret", "no role"),
            ("alice: s3cret,root", "unknown role"),
            ("alice: MD5:abc,read", "hashed"),
            ("alice: s3cret,read\nalice: other,read", "twice"),
        ] {
            let error = Users::parse("users.txt", text).unwrap_err().to_string();
            assert!(error.contains(reason), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
