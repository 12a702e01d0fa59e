/// A data set that could not be used, with where the problem is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be read.
    #[error("reading {source_name}")]
    Io {
        /// The file.
        source_name: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A row is malformed.
    #[error("{source_name} line {line}: {message}")]
    Row {
        /// The file.
        source_name: String,
        /// The 1-based line in the file (the header is line 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The rows parse but do not make a usable network or model.
    #[error("{source_name}: {message}")]
    Invalid {
        /// The file.
        source_name: String,
        /// What is wrong.
        message: String,
    },
}
