//! Files that hold personal data or secrets (the embedded database, the development
//! signing key, exports): readable and writable by their owner only, so that another
//! account on the same machine (a shared school PC, a laptop's guest) cannot read them.
//! Elsewhere than on Unix the platform's defaults apply.

use std::fs::File;
use std::path::Path;

/// Creates `path`, or truncates it, as a file of its owner's only (mode 0600).
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // `mode` applies only to a file it creates: an older file is narrowed too.
    restrict(path)?;
    Ok(file)
}

/// Writes `contents` to `path` as a file of its owner's only.
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = create_private(path)?;
    file.write_all(contents.as_ref())?;
    file.sync_all()
}

/// Creates `dir` (and its missing parents) reachable by its owner only (mode 0700). A
/// folder that exists already is left as it is: it may be shared on purpose (a home,
/// `/tmp`), and the files Carnet writes in it are private themselves.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Narrows an existing file to its owner (mode 0600).
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn private_files_and_folders_are_their_owners_only() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let folder = dir.path().join("exports");
        private_dir(&folder).expect("a private folder");
        assert_eq!(mode(&folder), 0o700);
        let file = folder.join("absences.csv");
        std::fs::write(&file, "old").expect("an older file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("0644");
        write_private(&file, "Hélène").expect("written");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            std::fs::read_to_string(&file).ok().as_deref(),
            Some("Hélène")
        );
    }
}
