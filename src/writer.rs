//! The apply stage for the working tree: each verified file is written atomically (a temp
//! file in the same directory, fsync, rename) with its permissions kept, and never through a
//! symlink, so a crash leaves either the old file or the new one, never half of each.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Replaces `path`'s contents with `bytes`. The error names the path.
pub fn write_atomically(path: &Path, display: &str, bytes: &[u8]) -> Result<(), String> {
    let fail = |what: &str, error: std::io::Error| format!("{display}: cannot {what}: {error}");
    let metadata = fs::symlink_metadata(path).map_err(|e| fail("read", e))?;
    if metadata.file_type().is_symlink() {
        return Err(format!(
            "{display}: is a symlink; rekey never writes through one: rotate its target instead"
        ));
    }
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".rekey-")
        .tempfile_in(directory)
        .map_err(|e| fail("create a temporary file beside it", e))?;
    temp.write_all(bytes).map_err(|e| fail("write", e))?;
    temp.as_file().sync_all().map_err(|e| fail("sync", e))?;
    fs::set_permissions(temp.path(), metadata.permissions())
        .map_err(|e| fail("keep its permissions", e))?;
    temp.persist(path).map_err(|e| fail("replace", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_in_place_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("start.yaml");
        fs::write(&path, "old\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o750)).unwrap();
        }
        write_atomically(&path, "start.yaml", b"new\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o750);
        }
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.yaml");
        let link = dir.path().join("link.yaml");
        fs::write(&target, "old\n").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = write_atomically(&link, "link.yaml", b"new\n").unwrap_err();
        assert!(error.contains("symlink"));
        assert_eq!(fs::read(&target).unwrap(), b"old\n");
    }
}
