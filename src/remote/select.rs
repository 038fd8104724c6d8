//! Which remote files a sync copies: only what the connectors name, by
//! the rules local discovery walks with — the files each connector takes
//! for a source below its roots (at its depth, in the directories it
//! enters), their companions (computed on the remote's listing, see
//! [`crate::connectors::Connector::companions_listed`]), and the small
//! side files a parser reads beside a source for its title or workspace
//! ([`SIDE_FILES`]). Nothing else below a root is copied: an agent's data
//! directory may hold its credentials (OpenCode's `auth.json` sits beside
//! its database).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::probe::{ListRoot, Listed};
use crate::connectors::{AgentEnv, Connector, Root};

/// Directory names whose pruning on the remote is tried: each is pruned
/// only for a connector that refuses it at its root (a shortcut for the
/// listing; the connector's own rule filters what comes back).
const PRUNE_CANDIDATES: &[&str] =
    &["node_modules", "target", "vendor", "venv", "__pycache__", "Library", "snap", ".git", ".cache"];

/// Side files parsers read beside a source (in its directory or one above
/// it, up to the root) for a title, a working directory or a session
/// summary: Vibe's and Kiro's `meta.json`, VS Code's `workspace.json`,
/// Grok's `.cwd` and `summary.json`, Kimi's `state.json` and `kimi.json`.
/// `<session>.settings.json` and `<session>.json` beside a source (Factory,
/// Kiro) are taken too.
pub const SIDE_FILES: &[&str] = &["meta.json", "workspace.json", ".cwd", "summary.json", "state.json", "kimi.json"];

/// The roots of every connector the machine reads, on the remote, in
/// connector order: `(connector index, root)`.
pub fn remote_roots(connectors: &[Box<dyn Connector>], env: &AgentEnv, agents: &[String]) -> Vec<(usize, Root)> {
    connectors
        .iter()
        .enumerate()
        .filter(|(_, c)| agents.is_empty() || agents.iter().any(|a| a == c.agent().slug()))
        .flat_map(|(i, c)| c.roots(env).into_iter().map(move |r| (i, r)))
        .filter(|(_, r)| r.path.is_absolute())
        .collect()
}

/// What to list on the remote for these roots: each once, at the deepest
/// walk asked of it, pruning only names every connector at it refuses.
pub fn list_roots(connectors: &[Box<dyn Connector>], roots: &[(usize, Root)]) -> Vec<ListRoot> {
    let mut by_path: BTreeMap<PathBuf, (usize, Option<Vec<String>>)> = BTreeMap::new();
    for (ci, root) in roots {
        let c = &connectors[*ci];
        let refused: Vec<String> = refused_names(&**c, &root.path);
        let entry = by_path.entry(root.path.clone()).or_insert((0, None));
        entry.0 = entry.0.max(c.walk_depth() + 1);
        entry.1 = Some(match entry.1.take() {
            None => refused,
            Some(prev) => prev.into_iter().filter(|n| refused.contains(n)).collect(),
        });
    }
    by_path
        .into_iter()
        .map(|(path, (max_depth, prune))| ListRoot { path, max_depth, prune: prune.unwrap_or_default() })
        .collect()
}

/// Names the connector refuses to enter at its root (`.*` when it refuses
/// hidden directories in general).
fn refused_names(c: &dyn Connector, root: &Path) -> Vec<String> {
    let mut out: Vec<String> = PRUNE_CANDIDATES
        .iter()
        .filter(|n| !n.starts_with('.'))
        .filter(|n| !c.descend(&root.join(n)))
        .map(|n| n.to_string())
        .collect();
    if [".cache", ".git", ".cass-probe"].iter().all(|n| !c.descend(&root.join(n))) {
        out.push(".*".into());
    }
    out
}

/// The files to copy out of `listed`, by the connectors' rules, each once,
/// in path order.
pub fn select(connectors: &[Box<dyn Connector>], roots: &[(usize, Root)], listed: &[Listed]) -> Vec<Listed> {
    let by_path: HashMap<&Path, &Listed> = listed.iter().map(|l| (l.path.as_path(), l)).collect();
    let mut by_dir: HashMap<&Path, Vec<PathBuf>> = HashMap::new();
    for l in listed {
        if let Some(d) = l.path.parent() {
            by_dir.entry(d).or_default().push(l.path.clone());
        }
    }
    for files in by_dir.values_mut() {
        files.sort();
    }
    let list = |dir: &Path| -> Vec<PathBuf> { by_dir.get(dir).cloned().unwrap_or_default() };
    let mut keep: BTreeMap<&Path, &Listed> = BTreeMap::new();
    for (ci, root) in roots {
        let c = &connectors[*ci];
        for l in listed {
            let Ok(rel) = l.path.strip_prefix(&root.path) else { continue };
            let depth = rel.components().count();
            if depth == 0 || depth > c.walk_depth() + 1 || !entered(&**c, &root.path, &l.path) {
                continue;
            }
            if !c.is_source(&root.path, &l.path) {
                continue;
            }
            take(&by_path, &l.path, &mut keep);
            for comp in c.companions_listed(&l.path, &list) {
                take(&by_path, &comp, &mut keep);
            }
            let stem = l.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            for beside in [format!("{stem}.settings.json"), format!("{stem}.json")] {
                take(&by_path, &l.path.with_file_name(beside), &mut keep);
            }
            let mut dir = l.path.parent();
            while let Some(d) = dir.filter(|d| d.starts_with(&root.path)) {
                for name in SIDE_FILES {
                    take(&by_path, &d.join(name), &mut keep);
                }
                dir = d.parent();
            }
        }
    }
    keep.into_values().cloned().collect()
}

/// Keeps `p` when the listing has it.
fn take<'a>(by_path: &HashMap<&'a Path, &'a Listed>, p: &Path, keep: &mut BTreeMap<&'a Path, &'a Listed>) {
    if let Some(l) = by_path.get(p) {
        keep.insert(l.path.as_path(), l);
    }
}

/// Whether discovery would enter every directory between `root` and `file`.
fn entered(c: &dyn Connector, root: &Path, file: &Path) -> bool {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) {
            return true;
        }
        if !c.descend(d) {
            return false;
        }
        dir = d.parent();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::{Platform, all};

    fn listed(paths: &[&str]) -> Vec<Listed> {
        paths.iter().map(|p| Listed { path: p.into(), size: 1, mtime: 0 }).collect()
    }

    #[test]
    fn only_what_connectors_name_is_selected() {
        let connectors = all();
        let env = AgentEnv::with_home("/home/me").on(Platform::Linux);
        let roots = remote_roots(&connectors, &env, &[]);
        let files = listed(&[
            "/home/me/.claude/projects/-home-me-api/s1.jsonl",
            "/home/me/.claude/projects/-home-me-api/notes.txt",
            "/home/me/proj/.aider.chat.history.md",
            "/home/me/proj/secrets.env",
            "/home/me/proj/node_modules/x/.aider.chat.history.md",
            "/home/me/.ssh/id_ed25519",
            "/home/me/.bash_history",
            "/home/me/.local/share/opencode/auth.json",
            "/home/me/.local/share/opencode/storage/session/p1/ses_1.json",
            "/home/me/.local/share/opencode/storage/message/ses_1/msg_1.json",
            "/home/me/.local/share/opencode/storage/part/msg_1/prt_1.json",
            "/home/me/.local/share/opencode/storage/part/msg_9/prt_9.json",
        ]);
        let got: Vec<String> =
            select(&connectors, &roots, &files).into_iter().map(|l| l.path.display().to_string()).collect();
        assert_eq!(
            got,
            [
                "/home/me/.claude/projects/-home-me-api/s1.jsonl",
                "/home/me/.local/share/opencode/storage/message/ses_1/msg_1.json",
                "/home/me/.local/share/opencode/storage/part/msg_1/prt_1.json",
                "/home/me/.local/share/opencode/storage/session/p1/ses_1.json",
                "/home/me/proj/.aider.chat.history.md",
            ]
        );
        // An agent list narrows it.
        let roots = remote_roots(&connectors, &env, &["aider".to_string()]);
        assert_eq!(select(&connectors, &roots, &files).len(), 1);
    }

    #[test]
    fn listing_prunes_what_aider_refuses_and_nothing_else() {
        let connectors = all();
        let env = AgentEnv::with_home("/home/me").on(Platform::Linux);
        let roots = list_roots(&connectors, &remote_roots(&connectors, &env, &[]));
        let home = roots.iter().find(|r| r.path == Path::new("/home/me")).unwrap();
        assert!(home.prune.contains(&".*".to_string()) && home.prune.contains(&"node_modules".to_string()));
        assert_eq!(home.max_depth, 5);
        let claude = roots.iter().find(|r| r.path == Path::new("/home/me/.claude/projects")).unwrap();
        assert!(claude.prune.is_empty());
    }
}
