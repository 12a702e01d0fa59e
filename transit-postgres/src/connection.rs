//! Connection settings as libpq takes them, TLS included, and the connection itself.
//!
//! [`ConnectOptions`] parses libpq's two forms, a URL
//! (`postgres://user:password@host:5432/db?sslmode=verify-full&sslrootcert=/etc/ca.pem`) or
//! `key=value` pairs (`host=db user=ann sslmode=require`), into `tokio-postgres`'s
//! [`Config`] plus the two TLS settings `tokio-postgres` does not know:
//!
//! | `sslmode` | TLS | certificate checked |
//! | --- | --- | --- |
//! | `disable` | never | - |
//! | `prefer` (the default, as in libpq) | if the server offers it, else plain | no |
//! | `require` | always | no; against `sslrootcert`'s CA when one is given (libpq's rule: it then acts as `verify-ca`) |
//! | `verify-ca` | always | signed by `sslrootcert`'s CA |
//! | `verify-full` | always | signed by `sslrootcert`'s CA and naming the host connected to |
//!
//! `verify-ca` and `verify-full` need `sslrootcert`, a PEM file of one or more CA
//! certificates; without it libpq reads `~/.postgresql/root.crt`, and so does this. The system's
//! trust store (libpq 16's `sslrootcert=system`) and client certificates (`sslcert`, `sslkey`)
//! are not supported: such a string is refused rather than quietly weakened. Passwords travel
//! as PostgreSQL asks for them: SCRAM-SHA-256 (with channel binding when the server offers it
//! over TLS), MD5 or clear text, the last two only worth using over TLS.
//!
//! TLS is rustls with the aws-lc-rs provider, chosen per connection rather than taken from the
//! process-wide default, so another crate of the program enabling a second provider cannot
//! make the choice ambiguous.
//!
//! # Secrets
//!
//! The password is never shown: [`ConnectOptions`]' `Display` (what messages name) leaves it
//! out, its `Debug` redacts it, and no error of this module quotes the connection string.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a connection uses TLS: libpq's `sslmode` (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, without checking its certificate; plain otherwise.
    #[default]
    Prefer,
    /// Always TLS, the certificate unchecked (unless a root certificate is given).
    Require,
    /// Always TLS, the certificate signed by the root certificate's CA.
    VerifyCa,
    /// Always TLS, the certificate signed by the root certificate's CA and naming the host.
    VerifyFull,
}

impl SslMode {
    /// libpq's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = OptionsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // libpq's `allow` tries without TLS first, which tokio-postgres cannot do.
            _ => return Err(OptionsError::SslMode),
        })
    }
}

/// Connection settings: `tokio-postgres`'s [`Config`] and the TLS settings. See the
/// [module documentation](self).
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    config: Config,
    ssl_mode: SslMode,
    root_cert: Option<PathBuf>,
}

impl ConnectOptions {
    /// Settings from a `tokio-postgres` [`Config`]; its `ssl_mode` (`disable`, `prefer` or
    /// `require`) becomes the TLS mode, with no root certificate.
    pub fn new(config: Config) -> Self {
        let ssl_mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        Self {
            config,
            ssl_mode,
            root_cert: None,
        }
    }

    /// The `tokio-postgres` settings (host, user, database...).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `tokio-postgres` settings, to change (an `application_name`, `options`...).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The TLS mode.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// Sets the TLS mode.
    pub fn set_ssl_mode(&mut self, mode: SslMode) -> &mut Self {
        self.ssl_mode = mode;
        self
    }

    /// The PEM file of CA certificates the server's certificate is checked against.
    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// Sets the PEM file of CA certificates (libpq's `sslrootcert`).
    pub fn set_root_cert(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.root_cert = Some(path.into());
        self
    }

    /// Sets the password (e.g. read from a file, rather than written in the URL).
    pub fn set_password(&mut self, password: impl AsRef<[u8]>) -> &mut Self {
        self.config.password(password);
        self
    }

    /// The TLS mode in force: libpq checks the CA under `require` once a root certificate is
    /// given.
    fn effective_mode(&self) -> SslMode {
        match (self.ssl_mode, &self.root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        }
    }

    /// The root certificate file to read: the one given, or libpq's `~/.postgresql/root.crt`.
    fn root_cert_path(&self) -> Option<PathBuf> {
        self.root_cert.clone().or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(Path::new(&home).join(".postgresql").join("root.crt"))
        })
    }

    /// The rustls client configuration for this mode, or `None` for `disable`.
    fn tls(&self) -> Result<Option<ClientConfig>, ConnectError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mode = self.effective_mode();
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::Disable => return Ok(None),
            SslMode::Prefer | SslMode::Require => Arc::new(AnyCertificate {
                provider: Arc::clone(&provider),
            }),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let path = self
                    .root_cert_path()
                    .ok_or(ConnectError::NoRootCert { mode })?;
                let roots = read_roots(&path, mode)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|source| ConnectError::RootCert {
                            path: path.clone(),
                            reason: source.to_string(),
                        })?;
                if mode == SslMode::VerifyCa {
                    Arc::new(AnyName { inner: webpki })
                } else {
                    webpki
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| ConnectError::RootCert {
                path: PathBuf::new(),
                reason: source.to_string(),
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Some(config))
    }
}

impl From<Config> for ConnectOptions {
    fn from(config: Config) -> Self {
        Self::new(config)
    }
}

impl From<&Config> for ConnectOptions {
    fn from(config: &Config) -> Self {
        Self::new(config.clone())
    }
}

impl From<&ConnectOptions> for ConnectOptions {
    fn from(options: &ConnectOptions) -> Self {
        options.clone()
    }
}

impl FromStr for ConnectOptions {
    type Err = OptionsError;

    /// Parses a libpq URL or `key=value` string. Errors never quote the string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut ssl_mode = None;
        let mut root_cert = None;
        let mut take = |key: &str, value: String| -> Result<bool, OptionsError> {
            match key {
                "sslmode" => ssl_mode = Some(value.parse::<SslMode>()?),
                "sslrootcert" if value == "system" => return Err(OptionsError::SystemRoots),
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                "sslcert" | "sslkey" | "sslpassword" => {
                    return Err(OptionsError::ClientCertificate)
                }
                _ => return Ok(false),
            }
            Ok(true)
        };
        let rest = if is_url(s) {
            url_without(s, &mut take)?
        } else {
            pairs_without(s, &mut take)?
        };
        let mut config: Config = rest.parse().map_err(OptionsError::Invalid)?;
        let ssl_mode = ssl_mode.unwrap_or_default();
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Ok(Self {
            config,
            ssl_mode,
            root_cert,
        })
    }
}

/// `user@host:port/database (sslmode=...)`: what messages show of the settings, without the
/// password.
impl fmt::Display for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = self.config.get_user() {
            write!(f, "{user}@")?;
        }
        let ports = self.config.get_ports();
        for (i, host) in self.config.get_hosts().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(name) => f.write_str(name)?,
                #[cfg(unix)]
                Host::Unix(path) => write!(f, "{}", path.display())?,
            }
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            write!(f, ":{port}")?;
        }
        if let Some(db) = self.config.get_dbname() {
            write!(f, "/{db}")?;
        }
        write!(f, " (sslmode={})", self.ssl_mode)
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The URL without the query parameters `take` takes (given decoded).
fn url_without(
    s: &str,
    take: &mut impl FnMut(&str, String) -> Result<bool, OptionsError>,
) -> Result<String, OptionsError> {
    // As tokio-postgres reads a URL: the credentials end at the first `@`, the parameters
    // start at the first `?` after them.
    let credentials_end = s.find('@').map_or(0, |at| at + 1);
    let Some(query_start) = s[credentials_end..].find('?').map(|q| q + credentials_end) else {
        return Ok(s.to_string());
    };
    let mut kept = Vec::new();
    for segment in s[query_start + 1..].split('&') {
        let Some((key, value)) = segment.split_once('=') else {
            kept.push(segment);
            continue;
        };
        let key = percent_decode(key)?;
        if !take(&key, percent_decode(value)?)? {
            kept.push(segment);
        }
    }
    let mut rest = s[..query_start].to_string();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok(rest)
}

fn percent_decode(s: &str) -> Result<String, OptionsError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| OptionsError::Syntax("a URL parameter is not UTF-8"))
}

/// The `key=value` string without the pairs `take` takes, re-quoted for tokio-postgres.
fn pairs_without(
    s: &str,
    take: &mut impl FnMut(&str, String) -> Result<bool, OptionsError>,
) -> Result<String, OptionsError> {
    let mut rest = String::new();
    for (key, value) in KeyValues::new(s) {
        let value = value?;
        if take(key, value.clone())? {
            continue;
        }
        if !rest.is_empty() {
            rest.push(' ');
        }
        rest.push_str(key);
        rest.push_str("='");
        for c in value.chars() {
            if c == '\'' || c == '\\' {
                rest.push('\\');
            }
            rest.push(c);
        }
        rest.push('\'');
    }
    Ok(rest)
}

/// libpq's `key = value` pairs as tokio-postgres reads them: values bare or single-quoted,
/// backslash escaping the next character.
struct KeyValues<'a> {
    s: &'a str,
    failed: bool,
}

impl<'a> KeyValues<'a> {
    fn new(s: &'a str) -> Self {
        Self { s, failed: false }
    }

    fn value(&mut self) -> Result<String, OptionsError> {
        let mut chars = self.s.char_indices();
        let quoted = self.s.starts_with('\'');
        if quoted {
            chars.next();
        }
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '\'' if quoted => {
                    self.s = &self.s[i + 1..];
                    return Ok(value);
                }
                c if c.is_whitespace() && !quoted => {
                    self.s = &self.s[i..];
                    return Ok(value);
                }
                c => value.push(c),
            }
        }
        if quoted {
            return Err(OptionsError::Syntax("a quoted value is not terminated"));
        }
        self.s = "";
        if value.is_empty() {
            return Err(OptionsError::Syntax("a parameter has no value"));
        }
        Ok(value)
    }
}

impl<'a> Iterator for KeyValues<'a> {
    type Item = (&'a str, Result<String, OptionsError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.s = self.s.trim_start();
        if self.s.is_empty() {
            return None;
        }
        let end = self
            .s
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(self.s.len());
        let key = &self.s[..end];
        self.s = self.s[end..].trim_start();
        let value = match self.s.strip_prefix('=') {
            Some(after) if !key.is_empty() => {
                self.s = after.trim_start();
                self.value()
            }
            _ => Err(OptionsError::Syntax("expected `key=value`")),
        };
        self.failed = value.is_err();
        Some((key, value))
    }
}

/// Reads the CA certificates of a PEM file.
fn read_roots(path: &Path, mode: SslMode) -> Result<RootCertStore, ConnectError> {
    let bytes = std::fs::read(path).map_err(|source| ConnectError::ReadRootCert {
        path: path.to_path_buf(),
        mode,
        source,
    })?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|error| ConnectError::RootCert {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
        roots.add(cert).map_err(|error| ConnectError::RootCert {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(ConnectError::RootCert {
            path: path.to_path_buf(),
            reason: "no PEM certificate in it".to_string(),
        });
    }
    Ok(roots)
}

/// `prefer` and `require` without a root certificate: any certificate, as libpq takes it
/// (encryption without authentication of the server), the handshake's signatures still checked
/// against the certificate presented.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain to the root checked, the name not. rustls checks the chain before
/// the name, so a name error means the chain was good.
#[derive(Debug)]
struct AnyName {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Why connection settings do not parse. No variant quotes the string (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// The string is not well-formed.
    #[error("invalid PostgreSQL connection string: {0}")]
    Syntax(&'static str),
    /// `sslmode` has a value this client does not support.
    #[error(
        "invalid PostgreSQL connection string: sslmode must be disable, prefer, require, \
         verify-ca or verify-full"
    )]
    SslMode,
    /// `sslrootcert=system` (the system's trust store) is not supported.
    #[error(
        "invalid PostgreSQL connection string: sslrootcert=system is not supported; give the \
         CA certificate's PEM file"
    )]
    SystemRoots,
    /// Client certificates are not supported.
    #[error(
        "invalid PostgreSQL connection string: client certificates (sslcert, sslkey) are not \
         supported"
    )]
    ClientCertificate,
    /// `tokio-postgres` refused the settings (its messages name the option, not its value).
    #[error("invalid PostgreSQL connection string")]
    Invalid(#[source] tokio_postgres::Error),
}

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// `verify-ca` or `verify-full` without a root certificate.
    #[error("sslmode={mode} needs a CA certificate: set sslrootcert")]
    NoRootCert {
        /// The mode.
        mode: SslMode,
    },
    /// The root certificate file could not be read.
    #[error("reading the CA certificate {} for sslmode={mode}", path.display())]
    ReadRootCert {
        /// The file.
        path: PathBuf,
        /// The mode that needs it.
        mode: SslMode,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The root certificate file holds no usable certificate.
    #[error("the CA certificate {}: {reason}", path.display())]
    RootCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// PostgreSQL refused or could not be reached (a TLS handshake that failed, a wrong
    /// password, a host that does not answer).
    #[error("connecting to PostgreSQL at {target}")]
    Postgres {
        /// Where, without the password.
        target: String,
        /// What `tokio-postgres` said.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl ConnectError {
    /// Whether trying again cannot help until a setting changes: a CA certificate missing or
    /// unusable, refused credentials, a database that does not exist, or a TLS handshake that
    /// failed. A server that cannot be reached, is starting up or has no connection slot free
    /// is an outage, not a mistake.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::NoRootCert { .. } | Self::ReadRootCert { .. } | Self::RootCert { .. } => true,
            Self::Postgres { source, .. } => is_permanent(source),
        }
    }

    /// The `tokio-postgres` error, if the server or the network failed.
    pub fn postgres(&self) -> Option<&tokio_postgres::Error> {
        match self {
            Self::Postgres { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Whether a `tokio-postgres` error is one that trying again cannot mend: PostgreSQL's refusal
/// of the credentials (SQLSTATE class 28), of a database (3D000: it does not exist) or a table
/// (42P01), of a privilege (42501), or a TLS failure. Errors of the network (refused, reset,
/// timed out) and a server not ready (57P03, 53300) are passing.
pub fn is_permanent(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if let Some(code) = error.code() {
        return code.code().starts_with("28")
            || [
                SqlState::INVALID_CATALOG_NAME,
                SqlState::UNDEFINED_TABLE,
                SqlState::INSUFFICIENT_PRIVILEGE,
            ]
            .contains(code);
    }
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if error.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            // rustls reports a refused certificate as an I/O error wrapping its own.
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return true;
            }
        }
        cause = error.source();
    }
    false
}

/// Connects to PostgreSQL with the settings' TLS mode and drives the connection on a task of
/// its own, as `tokio-postgres` requires; when the connection breaks, the client's calls fail
/// and the caller reconnects.
///
/// Takes a [`ConnectOptions`] or a `tokio-postgres` [`Config`] (its `sslmode`, no root
/// certificate).
pub async fn connect(options: impl Into<ConnectOptions>) -> Result<Client, ConnectError> {
    let options = options.into();
    let failed = |source| ConnectError::Postgres {
        target: options.to_string(),
        source,
    };
    let client = match options.tls()? {
        None => {
            let (client, connection) = options
                .config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(failed)?;
            spawn_driver(connection);
            client
        }
        Some(tls) => {
            let (client, connection) = options
                .config
                .connect(MakeRustlsConnect::new(tls))
                .await
                .map_err(failed)?;
            spawn_driver(connection);
            client
        }
    };
    Ok(client)
}

fn spawn_driver<F>(connection: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            // The client's next call fails with this too, and whoever holds it reports it.
            tracing::debug!(error = %transit_core::error_chain(&error), "PostgreSQL connection ended");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Pa55";

    #[test]
    fn urls_keep_libpq_ssl_settings_for_rustls() {
        let options: ConnectOptions = format!(
            "postgres://ann:{SECRET}@db.example:6432/cta?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x"
        )
        .parse()
        .unwrap();
        assert_eq!(options.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(options.root_cert(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(options.config().get_application_name(), Some("x"));
        assert_eq!(options.config().get_password(), Some(SECRET.as_bytes()));
        assert_eq!(
            options.config().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(
            options.to_string(),
            "ann@db.example:6432/cta (sslmode=verify-full)"
        );
        assert!(!format!("{options:?}").contains(SECRET));
    }

    #[test]
    fn key_value_strings_too() {
        let options: ConnectOptions =
            format!(r"host=db user=ann password='it\'s {SECRET}' sslmode = require  dbname=cta")
                .parse()
                .unwrap();
        assert_eq!(options.ssl_mode(), SslMode::Require);
        assert_eq!(options.effective_mode(), SslMode::Require);
        assert_eq!(
            options.config().get_password(),
            Some(format!("it's {SECRET}").as_bytes())
        );
        assert_eq!(options.config().get_dbname(), Some("cta"));
        let with_ca: ConnectOptions = "host=db sslmode=require sslrootcert=/ca.pem"
            .parse()
            .unwrap();
        assert_eq!(with_ca.effective_mode(), SslMode::VerifyCa, "libpq's rule");
    }

    #[test]
    fn the_default_is_prefer_as_in_libpq() {
        let options: ConnectOptions = "postgres://ann@db/cta".parse().unwrap();
        assert_eq!(options.ssl_mode(), SslMode::Prefer);
    }

    #[test]
    fn errors_never_quote_the_string() {
        for bad in [
            format!("postgres://ann:{SECRET}@db/cta?sslmode=allow"),
            format!("postgres://ann:{SECRET}@db/cta?sslmode=verify-full&sslrootcert=system"),
            format!("postgres://ann:{SECRET}@db/cta?sslcert=/c.pem"),
            format!("postgres://ann:{SECRET}@db:port/cta"),
            format!("postgres://ann:{SECRET}@db/cta?nonsense"),
            format!("host=db password='{SECRET}"),
            format!("host=db password={SECRET} ={SECRET}"),
            format!("host=db {SECRET}"),
            format!("host=db password={SECRET} port=x{SECRET}"),
        ] {
            let error = bad.parse::<ConnectOptions>().unwrap_err();
            let chain = transit_core::error_chain(&error);
            assert!(!chain.contains(SECRET), "{bad}: {chain}");
            assert!(!chain.contains("s3c"), "{bad}: {chain}");
        }
    }

    #[test]
    fn verify_modes_need_a_readable_root_certificate() {
        let mut options: ConnectOptions =
            "host=db sslmode=verify-full sslrootcert=/nonexistent/ca.pem"
                .parse()
                .unwrap();
        let error = options.tls().unwrap_err();
        assert!(
            matches!(error, ConnectError::ReadRootCert { .. }),
            "{error}"
        );
        options.set_ssl_mode(SslMode::Disable);
        assert!(options.tls().unwrap().is_none());
    }
}
