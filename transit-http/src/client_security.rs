//! How the registry and REST Proxy clients reach a secured server, with Confluent's client
//! settings: `basic.auth.credentials.source=USER_INFO` with `basic.auth.user.info=user:password`,
//! and a CA file (`ssl.ca.location`) to trust for `https://`.
//!
//! The password is kept in a [`UserInfo`] whose `Debug` and `Display` hide it; it is only ever
//! written into the `Authorization` header.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why the client settings are not usable. No variant quotes a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientSecurityError {
    /// `basic.auth.user.info` is not `user:password`.
    #[error("basic.auth.user.info must be `user:password` (from {source_name})")]
    UserInfo {
        /// Where it came from (a file or variable's name, never the value).
        source_name: String,
    },
    /// A file could not be read.
    #[error("reading {what} {path}")]
    Read {
        /// The CA file or the user info file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no PEM certificate.
    #[error("the CA file {path} holds no PEM certificate")]
    Ca {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: reqwest::Error,
    },
    /// `basic.auth.credentials.source` names a source other than `USER_INFO`.
    #[error("basic.auth.credentials.source {0:?} is not supported (only USER_INFO)")]
    CredentialsSource(String),
}

/// A user name and its password, for HTTP basic auth. Shown as `user:***`.
#[derive(Clone, PartialEq, Eq)]
pub struct UserInfo {
    user: String,
    password: String,
}

impl fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserInfo({}:***)", self.user)
    }
}

impl fmt::Display for UserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:***", self.user)
    }
}

impl UserInfo {
    /// Parses Confluent's `basic.auth.user.info` value, `user:password` (the password may hold
    /// colons); `source_name` says where it came from, for the error.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ClientSecurityError> {
        let text = text.trim_end_matches(['\r', '\n']);
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(Self {
                user: user.to_string(),
                password: password.to_string(),
            }),
            _ => Err(ClientSecurityError::UserInfo {
                source_name: source_name.to_string(),
            }),
        }
    }

    /// Reads `user:password` from the first line of a file.
    pub fn from_file(path: &Path) -> Result<Self, ClientSecurityError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClientSecurityError::Read {
            what: "the user info file",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(
            text.lines().next().unwrap_or_default(),
            &path.display().to_string(),
        )
    }

    /// The user's name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// How a client reaches a server: credentials and the CA to trust, both optional.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    /// HTTP basic auth with these credentials on every request.
    pub user_info: Option<UserInfo>,
    /// Trust only the certificates in this PEM file for `https://` (the system's roots
    /// otherwise).
    pub ca_file: Option<PathBuf>,
}

impl ClientSecurity {
    /// No credentials, the system's roots for `https://`.
    pub fn none() -> Self {
        Self::default()
    }

    /// With these credentials.
    pub fn with_user_info(mut self, user_info: UserInfo) -> Self {
        self.user_info = Some(user_info);
        self
    }

    /// Trusting the CA certificates in this PEM file.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// A builder of an HTTP client trusting what this says for `https://` (the credentials
    /// are added per request, by [`Self::authorize`]).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, ClientSecurityError> {
        let builder = reqwest::Client::builder();
        let Some(path) = &self.ca_file else {
            return Ok(builder);
        };
        let pem = std::fs::read(path).map_err(|source| ClientSecurityError::Read {
            what: "the CA file",
            path: path.clone(),
            source,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
            ClientSecurityError::Ca {
                path: path.clone(),
                source,
            }
        })?;
        Ok(builder.tls_certs_only(certs))
    }

    /// `request` with the credentials, if any.
    pub fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.user_info {
            Some(info) => request.basic_auth(&info.user, Some(&info.password)),
            None => request,
        }
    }

    /// The settings Confluent's clients take, from their `key=value` names:
    /// `basic.auth.credentials.source` (only `USER_INFO`), `basic.auth.user.info` and
    /// `ssl.ca.location`; other keys are ignored.
    pub fn from_confluent<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ClientSecurityError> {
        let mut security = Self::none();
        for (key, value) in pairs {
            match key.trim() {
                "basic.auth.credentials.source"
                    if !value.trim().eq_ignore_ascii_case("USER_INFO") =>
                {
                    return Err(ClientSecurityError::CredentialsSource(
                        value.trim().to_string(),
                    ));
                }
                "basic.auth.user.info" => {
                    security.user_info = Some(UserInfo::parse(value, "basic.auth.user.info")?);
                }
                "ssl.ca.location" => security.ca_file = Some(PathBuf::from(value.trim())),
                _ => {}
            }
        }
        Ok(security)
    }
}

/// Whether a request failed in the TLS handshake (an untrusted certificate, a wrong name):
/// rustls's errors come up as an `InvalidData` I/O error, wrapped in another I/O error (whose
/// `source` skips it, hence the look inside). Asking again cannot help.
pub(crate) fn is_tls_refusal(error: &reqwest::Error) -> bool {
    fn invalid_data(error: &(dyn std::error::Error + 'static)) -> bool {
        match error.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::InvalidData => true,
            Some(io) => io.get_ref().is_some_and(|inner| invalid_data(inner)),
            None => false,
        }
    }
    let mut source = std::error::Error::source(error);
    while let Some(error) = source {
        if invalid_data(error) {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_hides_its_password() {
        let info = UserInfo::parse("alice:pa:ss\n", "env").unwrap();
        assert_eq!(info.user(), "alice");
        assert_eq!(info.password, "pa:ss");
        assert_eq!(format!("{info}"), "alice:***");
        assert!(!format!("{info:?}").contains("pa:ss"));
        let error = UserInfo::parse("nopassword", "TRANSIT_X").unwrap_err();
        assert!(!error.to_string().contains("nopassword"), "{error}");
    }

    #[test]
    fn confluent_settings_are_read() {
        let security = ClientSecurity::from_confluent([
            ("basic.auth.credentials.source", "USER_INFO"),
            ("basic.auth.user.info", "bob:secret"),
            ("ssl.ca.location", "/tmp/ca.pem"),
            ("url", "https://x"),
        ])
        .unwrap();
        assert_eq!(security.user_info.unwrap().user(), "bob");
        assert_eq!(security.ca_file.unwrap(), PathBuf::from("/tmp/ca.pem"));
        assert!(ClientSecurity::from_confluent([(
            "basic.auth.credentials.source",
            "SASL_INHERIT"
        )])
        .is_err());
    }
}
