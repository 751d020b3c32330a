//! The error type the library's commands return: a message, and the file and position it
//! is about when there is one, printed as `path:line:column: message` like every error
//! rekey shows.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub path: Option<String>,
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            path: None,
            position: None,
            message: message.into(),
        }
    }

    pub fn at(path: &str, message: impl Into<String>) -> Error {
        Error {
            path: Some(path.to_owned()),
            position: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.position) {
            (Some(path), Some((line, column))) => {
                write!(f, "{path}:{line}:{column}: {}", self.message)
            }
            (Some(path), None) => write!(f, "{path}: {}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::new(message)
    }
}
