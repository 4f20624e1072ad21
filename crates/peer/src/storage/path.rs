//! Path safety: checking torrent path components and joining them under the download directory
//! without ever following a symlink or leaving the directory.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What is wrong with a path component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathProblem {
    /// The component is empty.
    Empty,
    /// The component is `.`.
    CurrentDir,
    /// The component is `..`.
    ParentDir,
    /// The component contains `/` or `\` (an absolute path or several components in one).
    Separator,
    /// The component contains a NUL byte.
    Nul,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathProblem::Empty => "empty component",
            PathProblem::CurrentDir => "`.` component",
            PathProblem::ParentDir => "`..` component would leave the download directory",
            PathProblem::Separator => "contains a path separator (absolute or nested path)",
            PathProblem::Nul => "contains a NUL byte",
        })
    }
}

/// Checks one path component from a torrent.
pub(crate) fn check_component(component: &str) -> Result<(), PathProblem> {
    match component {
        "" => Err(PathProblem::Empty),
        "." => Err(PathProblem::CurrentDir),
        ".." => Err(PathProblem::ParentDir),
        c if c.contains('\0') => Err(PathProblem::Nul),
        c if c.contains(['/', '\\']) => Err(PathProblem::Separator),
        _ => Ok(()),
    }
}

/// Why a path could not be prepared under the download directory.
#[derive(Debug)]
pub(crate) enum PrepareError {
    /// A component was rejected.
    Unsafe(PathProblem),
    /// An existing parent (or the file itself) is a symlink: it could point anywhere.
    Symlink(PathBuf),
    /// An existing parent is not a directory.
    NotADirectory(PathBuf),
    /// Another I/O error, on this path.
    Io(PathBuf, io::Error),
}

/// Joins `components` under `root`, checking each one, and makes sure no existing parent
/// directory below `root` is a symlink or a non-directory. With `create`, missing parent
/// directories are created (one at a time, so a symlink planted meanwhile is still caught by
/// the `O_NOFOLLOW` open of the file itself or the next check).
pub(crate) fn prepare(
    root: &Path,
    components: &[String],
    create: bool,
) -> Result<PathBuf, PrepareError> {
    let mut path = root.to_path_buf();
    let (last, parents) = components
        .split_last()
        .ok_or(PrepareError::Unsafe(PathProblem::Empty))?;
    for component in components {
        check_component(component).map_err(PrepareError::Unsafe)?;
    }
    if create {
        // The download directory itself is the user's choice, trusted as given.
        fs::create_dir_all(root).map_err(|e| PrepareError::Io(root.to_path_buf(), e))?;
    }
    let mut missing = false;
    for component in parents {
        path.push(component);
        if !missing {
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(PrepareError::Symlink(path))
                }
                Ok(meta) if !meta.is_dir() => return Err(PrepareError::NotADirectory(path)),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => missing = true,
                Err(e) => return Err(PrepareError::Io(path, e)),
            }
        }
        if !create {
            continue;
        }
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Raced with someone: check again what is there now.
                let meta =
                    fs::symlink_metadata(&path).map_err(|e| PrepareError::Io(path.clone(), e))?;
                if meta.file_type().is_symlink() {
                    return Err(PrepareError::Symlink(path));
                }
                if !meta.is_dir() {
                    return Err(PrepareError::NotADirectory(path));
                }
            }
            Err(e) => return Err(PrepareError::Io(path, e)),
        }
    }
    path.push(last);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        assert_eq!(check_component("ok name.txt"), Ok(()));
        assert_eq!(
            check_component("..."),
            Ok(()),
            "three dots is an ordinary name"
        );
        assert_eq!(check_component(""), Err(PathProblem::Empty));
        assert_eq!(check_component(".."), Err(PathProblem::ParentDir));
        assert_eq!(check_component("a/b"), Err(PathProblem::Separator));
        assert_eq!(check_component("/"), Err(PathProblem::Separator));
        assert_eq!(check_component("C:\\x"), Err(PathProblem::Separator));
        assert_eq!(check_component("a\0"), Err(PathProblem::Nul));
    }

    #[test]
    fn prepare_refuses_symlinked_parent() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let err = prepare(dir.path(), &["link".into(), "f".into()], true).unwrap_err();
        assert!(matches!(err, PrepareError::Symlink(p) if p == dir.path().join("link")));
        let ok = prepare(dir.path(), &["d".into(), "e".into(), "f".into()], true).unwrap();
        assert_eq!(ok, dir.path().join("d/e/f"));
        assert!(dir.path().join("d/e").is_dir());
        let none = prepare(dir.path(), &["x".into(), "f".into()], false).unwrap();
        assert!(
            !none.parent().unwrap().exists(),
            "read-only preparation creates nothing"
        );
    }
}
