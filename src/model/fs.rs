//! Reading files safely, and naming them: what every stage that opens a user's file or
//! shows its path uses. A file is opened without following a symlink and without blocking
//! (a FIFO never hangs rekey), checked to be regular on the open descriptor, and read no
//! further than a limit. A [`FileDigest`] says whether a file still holds the bytes rekey
//! read, once those bytes are gone.

use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

/// What a file held when rekey read it: its length and the SHA-256 of its bytes. A run keeps
/// this instead of the bytes, and reads the file again when it needs them: a file whose
/// digest changed is not the file it judged or planned from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FileDigest {
    len: u64,
    sha256: [u8; 32],
}

impl FileDigest {
    pub fn of(bytes: &[u8]) -> FileDigest {
        FileDigest {
            len: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// How many bytes the file held: reading it again, nothing past this can match.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for FileDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileDigest({} bytes)", self.len)
    }
}

/// Why a path could not be read as a regular file.
#[derive(Debug)]
pub enum ReadError {
    /// A FIFO, device, socket, directory or symlink: never opened for reading, so it can
    /// neither block rekey nor feed it endless bytes.
    NotRegular(&'static str),
    /// Larger than the limit the caller gave.
    TooLarge(u64),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "is {what}, not a regular file"),
            ReadError::TooLarge(size) => write!(f, "is {size} bytes, over the limit"),
            ReadError::Io(error) => write!(f, "cannot read: {error}"),
        }
    }
}

/// Reads a regular file of at most `limit` bytes. The file is opened without following a
/// symlink and without blocking (a FIFO would otherwise wait forever for a writer), then
/// checked to be a regular file on the open descriptor, and read no further than `limit`.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let file = open_without_following(path)?;
    let metadata = file.metadata().map_err(ReadError::Io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular(kind_of(&metadata.file_type())));
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // The file may grow between the stat and the read: never read past the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Opens `path` for reading without following a symlink and without blocking (a FIFO
/// would otherwise wait forever for a writer).
pub fn open_without_following(path: &Path) -> Result<std::fs::File, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) => ReadError::NotRegular("a symlink"),
            _ => ReadError::Io(error),
        })
}

/// What kind of thing a non-regular file is, for messages.
pub fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symlink"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// `path` relative to `cwd` when it lies below it, with `/` separators and no `./`.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    let relative = path.strip_prefix(cwd).unwrap_or(path);
    let text = relative
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/");
    let mut trimmed = text.as_str();
    while let Some(rest) = trimmed.strip_prefix("./") {
        trimmed = rest;
    }
    trimmed.to_owned()
}

/// `path` with `.` left out and each `..` taking away the component before it, read as
/// written: the paths rekey compares are never reached through a symlink (those are
/// refused), so this names the same file as resolving them would.
pub fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The path from directory `from` to `to` (both absolute), as a user types it from `from`:
/// `.`, `k8s`, `..`, `../infra`.
pub fn relative_path(from: &Path, to: &Path) -> String {
    let (from, to) = (normalized(from), normalized(to));
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.components().count() - common];
    parts.extend(
        to.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_related_as_typed() {
        assert_eq!(
            normalized(Path::new("/repo/./k8s/../helm/")),
            Path::new("/repo/helm")
        );
        let relative = |from: &str, to: &str| relative_path(Path::new(from), Path::new(to));
        assert_eq!(relative("/repo", "/repo"), ".");
        assert_eq!(relative("/repo", "/repo/k8s/"), "k8s");
        assert_eq!(relative("/repo/k8s/base", "/repo"), "../..");
        assert_eq!(relative("/repo/k8s", "/repo/./helm"), "../helm");
    }

    #[test]
    fn display_paths_are_relative_with_slashes() {
        let cwd = Path::new("/repo");
        assert_eq!(
            display_path(Path::new("/repo/k8s/a.yaml"), cwd),
            "k8s/a.yaml"
        );
        assert_eq!(display_path(Path::new("./k8s/a.yaml"), cwd), "k8s/a.yaml");
        assert_eq!(
            display_path(Path::new("/other/a.yaml"), cwd),
            "/other/a.yaml"
        );
    }
}
