//! Remote machines over SSH: which machines are configured, what cass last
//! learned of each, and the mirror of their agents' session files.
//!
//! Nothing is installed on a remote machine. A sync runs two things there,
//! both through the system's `ssh` (its config, its agent, its
//! `known_hosts`: host keys are checked as `ssh` checks them, in batch mode,
//! so an unknown key is refused, never accepted): a read-only probe
//! ([`probe`]) that prints the remote's `$HOME`, its operating system and
//! the agents' own variables, and lists the files below the roots that the
//! connectors compute from them; then the copy — `rsync` (only changed
//! bytes travel), or `tar` where `rsync` is missing on either side. The
//! files land under `remotes/NAME/files/` in the data dir, at their remote
//! absolute path, and an index pass reads them with the same connectors
//! as local ones, recording the machine's name as each conversation's
//! `source`.
//!
//! Layout in the data dir:
//! ```text
//! remotes/machines.json          the configured machines (cass sources add)
//! remotes/NAME/state.json        the last sync: when, how it went, the probed env
//! remotes/NAME/files/<abs path>  the mirror of the remote's session files
//! ```

pub mod probe;
pub mod select;
pub mod sync;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::DataDir;
use crate::connectors::{AgentEnv, Platform};

/// Why a remote operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A file of the remotes directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// `machines.json` or a `state.json` does not parse.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A name, destination or mapping that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// No machine of that name is configured.
    #[error("no remote machine named '{0}' (`cass sources list` shows them)")]
    Unknown(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RemoteError + '_ {
    move |source| RemoteError::Io { path: path.to_path_buf(), source }
}

/// Whether `name` can name a machine: 1 to 64 letters, digits, `-`, `_`,
/// starting with a letter or digit, and not `local` or `remote` (the
/// `--source` words). It becomes a directory name and a filter value.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name != "local"
        && name != "remote"
}

/// One workspace mapping: a remote directory that is a local one here
/// (`/home/me/proj` there = `/Users/me/proj` here), so workspace filters
/// and `cass sessions --workspace .` find a project's sessions from every
/// machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMap {
    /// An absolute directory on the remote machine.
    pub remote: String,
    /// The directory it stands for here (absolute, `~` already expanded).
    pub local: String,
}

/// A configured remote machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Its name: the `source` of its conversations and its directory under `remotes/`.
    pub name: String,
    /// The login name (`me` of `me@host`), if given: else ssh's default.
    pub user: Option<String>,
    /// The host name or address (an alias of `~/.ssh/config` works too).
    pub host: String,
    /// The SSH port, if not ssh's default (or the config's).
    pub port: Option<u16>,
    /// A private key to log in with, if not ssh's default.
    pub identity: Option<PathBuf>,
    /// Only these agents' sessions are copied (empty: every agent's).
    #[serde(default)]
    pub agents: Vec<String>,
    /// Workspace mappings, applied longest remote prefix first.
    #[serde(default)]
    pub paths: Vec<PathMap>,
}

impl Machine {
    /// `user@host`, as ssh takes it.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// Reads `USER@HOST` (or `HOST`). Refuses what ssh would read as an
    /// option or a second argument.
    pub fn parse_destination(dest: &str) -> Result<(Option<String>, String), RemoteError> {
        let bad = |why: &str| RemoteError::Invalid(format!("'{dest}' is not a USER@HOST destination: {why}"));
        let (user, host) = match dest.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h.to_string()),
            None => (None, dest.to_string()),
        };
        let ok = |s: &str| !s.is_empty() && !s.starts_with('-') && !s.chars().any(|c| c.is_whitespace() || c == '\'');
        if !ok(&host) {
            return Err(bad("the host is empty, starts with '-' or holds a space or quote"));
        }
        if let Some(u) = &user
            && !ok(u)
        {
            return Err(bad("the user is empty, starts with '-' or holds a space or quote"));
        }
        Ok((user, host))
    }

    /// `workspace` as it reads here: under the longest mapped remote
    /// directory it is the local one; anything else stays as the remote
    /// wrote it.
    pub fn map_workspace(&self, workspace: &str) -> String {
        let best = self
            .paths
            .iter()
            .filter(|m| crate::filters::workspace_matches(&m.remote, workspace))
            .max_by_key(|m| m.remote.trim_end_matches('/').len());
        match best {
            Some(m) => {
                let rest = &workspace[m.remote.trim_end_matches('/').len()..];
                format!("{}{rest}", m.local.trim_end_matches('/'))
            }
            None => workspace.to_string(),
        }
    }
}

/// The configured machines: `remotes/machines.json`, written whole and
/// renamed into place, so a reader never sees half a list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machines {
    /// In the order they were added.
    pub machines: Vec<Machine>,
}

/// The `remotes/` directory of a data dir.
pub fn remotes_dir(data: &DataDir) -> PathBuf {
    data.root().join("remotes")
}

/// Where a machine's mirror and state live.
pub fn machine_dir(data: &DataDir, name: &str) -> PathBuf {
    remotes_dir(data).join(name)
}

/// The mirror of a machine's files: its absolute paths below this directory.
pub fn mirror_dir(data: &DataDir, name: &str) -> PathBuf {
    machine_dir(data, name).join("files")
}

/// Where a remote absolute path is mirrored.
pub fn mirrored(mirror: &Path, remote_path: &Path) -> PathBuf {
    mirror.join(remote_path.strip_prefix("/").unwrap_or(remote_path))
}

impl Machines {
    fn path(data: &DataDir) -> PathBuf {
        remotes_dir(data).join("machines.json")
    }

    /// The configured machines (none when the file does not exist).
    pub fn load(data: &DataDir) -> Result<Machines, RemoteError> {
        let path = Self::path(data);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RemoteError::Corrupt { path: path.clone(), message: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Machines::default()),
            Err(source) => Err(RemoteError::Io { path, source }),
        }
    }

    /// Writes the list (creating the data dir and `remotes/`, private).
    pub fn save(&self, data: &DataDir) -> Result<(), RemoteError> {
        data.create().map_err(io_err(data.root()))?;
        let dir = remotes_dir(data);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| RemoteError::Invalid(e.to_string()))?;
        write_atomically(&Self::path(data), &json)
    }

    /// The machine of this name.
    pub fn get(&self, name: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.name == name)
    }

    /// Adds a machine; its name must be new and valid.
    pub fn add(&mut self, machine: Machine) -> Result<(), RemoteError> {
        if !valid_name(&machine.name) {
            return Err(RemoteError::Invalid(format!(
                "'{}' cannot name a machine: use letters, digits, '-' and '_' (not 'local' or 'remote')",
                machine.name
            )));
        }
        if self.get(&machine.name).is_some() {
            return Err(RemoteError::Invalid(format!(
                "a machine named '{}' is already configured (`cass sources remove {}` first)",
                machine.name, machine.name
            )));
        }
        self.machines.push(machine);
        Ok(())
    }

    /// Removes a machine, returning it.
    pub fn remove(&mut self, name: &str) -> Result<Machine, RemoteError> {
        let at = self.machines.iter().position(|m| m.name == name).ok_or_else(|| RemoteError::Unknown(name.into()))?;
        Ok(self.machines.remove(at))
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RemoteError> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// What a probe learned of a machine: enough to compute its agents' roots
/// with the connectors' own rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEnv {
    /// `uname -s`: `Linux`, `Darwin`, …
    pub os: String,
    /// The variables the connectors read ([`crate::connectors::variables_read`])
    /// that are set there, `HOME` among them.
    pub vars: BTreeMap<String, String>,
}

impl RemoteEnv {
    /// The machine's environment as connectors read it.
    pub fn agent_env(&self) -> AgentEnv {
        let vars = self.vars.iter().map(|(k, v)| (k.clone(), v.into())).collect();
        let platform = if self.os == "Darwin" { Platform::MacOs } else { Platform::Linux };
        AgentEnv::from_vars(vars).on(platform)
    }
}

/// How a machine's last sync went: `remotes/NAME/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// When the last sync attempt ended (ms since the Unix epoch).
    pub last_attempt_at: Option<i64>,
    /// When the last sync that succeeded ended.
    pub last_sync_at: Option<i64>,
    /// The last attempt's error, when it failed.
    pub last_error: Option<String>,
    /// What the last successful probe found; what an index pass reads the
    /// mirror by (kept through failed attempts).
    pub env: Option<RemoteEnv>,
    /// The last successful sync's counts.
    pub last: Option<sync::Transfer>,
}

impl SyncState {
    fn path(data: &DataDir, name: &str) -> PathBuf {
        machine_dir(data, name).join("state.json")
    }

    /// The machine's state (default when it was never synced).
    pub fn load(data: &DataDir, name: &str) -> Result<SyncState, RemoteError> {
        let path = Self::path(data, name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RemoteError::Corrupt { path: path.clone(), message: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SyncState::default()),
            Err(source) => Err(RemoteError::Io { path, source }),
        }
    }

    /// Writes the state.
    pub fn save(&self, data: &DataDir, name: &str) -> Result<(), RemoteError> {
        let dir = machine_dir(data, name);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| RemoteError::Invalid(e.to_string()))?;
        write_atomically(&Self::path(data, name), &json)
    }
}

/// A machine as the indexer reads it: its name, its workspace mappings,
/// its mirror, and the probed environment that locates its agents' roots
/// (inside the mirror). Machines never synced have no environment and are
/// not read.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The machine's configuration.
    pub machine: Machine,
    /// Where its files are mirrored.
    pub mirror: PathBuf,
    /// Its environment as last probed.
    pub env: AgentEnv,
}

impl Origin {
    /// Every configured machine that has been synced at least once.
    pub fn all(data: &DataDir) -> Result<Vec<Origin>, RemoteError> {
        let mut out = Vec::new();
        for machine in Machines::load(data)?.machines {
            let Some(env) = SyncState::load(data, &machine.name)?.env else { continue };
            out.push(Origin { mirror: mirror_dir(data, &machine.name), env: env.agent_env(), machine });
        }
        Ok(out)
    }

    /// Whether this machine's agent (slug) is synced and read.
    pub fn reads(&self, agent: &str) -> bool {
        self.machine.agents.is_empty() || self.machine.agents.iter().any(|a| a == agent)
    }

    /// The remote path a mirrored path stands for (`None` outside the mirror).
    pub fn remote_path(&self, local: &Path) -> Option<String> {
        let rest = local.strip_prefix(&self.mirror).ok()?;
        Some(format!("/{}", rest.to_string_lossy()))
    }

    /// A workspace as a connector reported it, as it reads here: a path
    /// inside the mirror (a connector that takes the workspace from the
    /// file's own location) back to the remote path, then mapped.
    pub fn workspace(&self, reported: &str) -> (String, String) {
        let remote = self.remote_path(Path::new(reported)).unwrap_or_else(|| reported.to_string());
        (self.machine.map_workspace(&remote), remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(paths: &[(&str, &str)]) -> Machine {
        Machine {
            name: "box".into(),
            user: None,
            host: "h".into(),
            port: None,
            identity: None,
            agents: Vec::new(),
            paths: paths.iter().map(|(r, l)| PathMap { remote: r.to_string(), local: l.to_string() }).collect(),
        }
    }

    #[test]
    fn names_and_destinations() {
        assert!(valid_name("work-box_2"));
        for bad in ["", "local", "remote", "-x", "a.b", "a/b", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(Machine::parse_destination("me@h.example").unwrap(), (Some("me".into()), "h.example".into()));
        assert_eq!(Machine::parse_destination("h").unwrap(), (None, "h".into()));
        for bad in ["-oProxyCommand=x", "me@", "@h", "me@h x", "a'b"] {
            assert!(Machine::parse_destination(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn workspaces_map_by_the_longest_prefix_on_whole_components() {
        let m = machine(&[("/home/me", "/Users/me"), ("/home/me/src/", "/work")]);
        assert_eq!(m.map_workspace("/home/me/proj"), "/Users/me/proj");
        assert_eq!(m.map_workspace("/home/me/src/api"), "/work/api");
        assert_eq!(m.map_workspace("/home/me/src"), "/work");
        assert_eq!(m.map_workspace("/home/meta/x"), "/home/meta/x");
        assert_eq!(m.map_workspace("/srv/x"), "/srv/x");
    }
}
