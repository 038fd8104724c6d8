//! `--workspace` as typed on the command line. The library matches paths
//! and names (`crate::filters::workspace_matches`) but knows no current
//! directory; here `.`, `./x`, `../x` and `~/x` become absolute paths, and
//! `.` means the current directory's project.

use std::path::{Component, Path, PathBuf};

use super::CliError;

/// The filter to pass on: `.` is the workspace of the store that is the
/// current directory or the nearest directory above it (else the current
/// directory itself); other relative paths resolve against the current
/// directory, `~` against the home directory; anything else (an absolute
/// path, a name) is passed on as typed.
pub fn resolve(cass: &crate::Cass, typed: Option<&str>) -> Result<Option<String>, CliError> {
    let Some(typed) = typed else { return Ok(None) };
    let bare = typed.trim_end_matches('/');
    let cwd = || {
        std::env::current_dir()
            .map_err(|e| CliError::new("io", super::exit::USAGE, format!("cannot read the current directory: {e}")))
    };
    let path = if bare == "." {
        let dir = text(&cwd()?);
        // No store yet: the command reports that itself.
        let project = cass.reader().ok().and_then(|r| r.workspace_at_or_above(&dir).ok().flatten());
        return Ok(Some(project.unwrap_or(dir)));
    } else if bare == ".." || typed.starts_with("./") || typed.starts_with("../") {
        cwd()?.join(typed)
    } else if bare == "~" || typed.starts_with("~/") {
        let home = directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .ok_or_else(|| CliError::usage("cannot find the home directory for '~'"))?;
        home.join(typed.trim_start_matches('~').trim_start_matches('/'))
    } else {
        return Ok(Some(typed.to_string()));
    };
    Ok(Some(text(&normalize(&path))))
}

/// `a/./b/../c` → `a/c`, without touching the file system (the directory
/// may be gone; its sessions are still indexed).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_fold_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c/")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/a/../..")), PathBuf::from("/"));
    }
}
