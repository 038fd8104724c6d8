//! Sessions kept out by the settings: whole agents, and globs over session
//! files and workspaces (`exclude = ["~/work/secret-client/**"]`).

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A glob that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("exclude pattern {pattern:?}: {message}")]
pub struct ExcludeError {
    /// The pattern as written.
    pub pattern: String,
    /// Why it does not compile.
    pub message: String,
}

/// The compiled exclusions.
#[derive(Debug, Clone)]
pub struct Exclusions {
    agents: Vec<String>,
    globs: GlobSet,
    /// What was compiled, in order: names the set for the store.
    source: Vec<String>,
}

impl Exclusions {
    /// Compiles `globs` (absolute, `~` already expanded) and the agent slugs.
    /// `*` stays within one path component, `**` crosses them, and a glob
    /// ending in `/**` matches the directory itself too, so it excludes a
    /// workspace at that path as well as the sessions below it.
    pub fn new(globs: &[String], agents: &[String]) -> Result<Exclusions, ExcludeError> {
        let mut set = GlobSetBuilder::new();
        for pattern in globs {
            let mut add = |p: &str| {
                GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map(|g| {
                        set.add(g);
                    })
                    .map_err(|e| ExcludeError { pattern: pattern.clone(), message: e.kind().to_string() })
            };
            add(pattern)?;
            if let Some(dir) = pattern.strip_suffix("/**")
                && !dir.is_empty()
            {
                add(dir)?;
            }
        }
        let globs_set = set.build().map_err(|e| ExcludeError { pattern: globs.join(", "), message: e.to_string() })?;
        let mut source: Vec<String> = globs.to_vec();
        source.extend(agents.iter().map(|a| format!("agent:{a}")));
        Ok(Exclusions { agents: agents.to_vec(), globs: globs_set, source })
    }

    /// No exclusions at all.
    pub fn none() -> Exclusions {
        Exclusions { agents: Vec::new(), globs: GlobSet::empty(), source: Vec::new() }
    }

    /// Whether nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty() && self.globs.is_empty()
    }

    /// Whether the agent with this slug is excluded.
    pub fn agent(&self, slug: &str) -> bool {
        self.agents.iter().any(|a| a == slug)
    }

    /// Whether a session file (or a workspace directory) is excluded.
    pub fn path(&self, path: &Path) -> bool {
        !self.globs.is_empty() && self.globs.is_match(path)
    }

    /// Whether a workspace, as a connector recorded it, is excluded.
    pub fn workspace(&self, workspace: &str) -> bool {
        self.path(Path::new(workspace.trim_end_matches('/')))
    }

    /// The patterns and agents, for the store's record of what was applied.
    pub fn describe(&self) -> &[String] {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(globs: &[&str]) -> Exclusions {
        Exclusions::new(&globs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &[]).unwrap()
    }

    #[test]
    fn a_directory_glob_covers_the_directory_and_everything_below() {
        let e = ex(&["/home/u/work/secret/**"]);
        assert!(e.path(Path::new("/home/u/work/secret/a/b.jsonl")));
        assert!(e.workspace("/home/u/work/secret"));
        assert!(e.workspace("/home/u/work/secret/"));
        assert!(e.workspace("/home/u/work/secret/sub"));
        assert!(!e.workspace("/home/u/work/secretive"));
        assert!(!e.path(Path::new("/home/u/work/other/x.jsonl")));
    }

    #[test]
    fn a_star_stays_within_one_component() {
        let e = ex(&["/s/*.jsonl"]);
        assert!(e.path(Path::new("/s/a.jsonl")));
        assert!(!e.path(Path::new("/s/d/a.jsonl")));
    }

    #[test]
    fn agents_are_matched_by_slug_and_bad_globs_are_named() {
        let e = Exclusions::new(&[], &["cursor".into()]).unwrap();
        assert!(e.agent("cursor") && !e.agent("claude_code"));
        let err = Exclusions::new(&["/a/[b".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("/a/[b"), "{err}");
    }
}
