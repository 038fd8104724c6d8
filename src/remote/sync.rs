//! One sync of one machine: probe, list, select, copy, record.
//!
//! The copy is `rsync` when both sides have it: `--inplace`, so an
//! appended session file keeps its inode here and the next index pass
//! reads only its new lines, and rsync's delta transfer sends only the
//! bytes the mirror lacks (its `--stats` give the counts). Without rsync on
//! either side, `tar` over ssh copies the selected files whose size or
//! modification time differ from the mirror's, whole.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::probe::{self, Listed, SshError, SshOptions};
use super::select;
use super::{Machine, Machines, RemoteError, SyncState, mirror_dir, mirrored};
use crate::config::DataDir;
use crate::connectors;

/// How files are copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CopyMethod {
    /// rsync when both sides have it, else tar.
    #[default]
    Auto,
    /// rsync only (an error where it is missing).
    Rsync,
    /// tar over ssh, whole changed files.
    Tar,
}

/// Everything a sync needs besides the machine.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// How ssh is run.
    pub ssh: SshOptions,
    /// How files are copied.
    pub copy: CopyMethod,
}

/// What one copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// `rsync` or `tar`.
    pub method: String,
    /// Files the listing found below the agents' roots.
    pub files_listed: usize,
    /// Of those, the files the connectors name (the ones mirrored).
    pub files_selected: usize,
    /// Files that changed and were copied (wholly or in part).
    pub files_copied: usize,
    /// Bytes of file content that travelled: rsync's literal data (what
    /// the mirror lacked), or the tar stream.
    pub bytes_copied: u64,
    /// Every byte received, protocol included.
    pub bytes_received: u64,
    /// Wall time of the sync, in milliseconds.
    pub elapsed_ms: u64,
}

/// How one machine's sync went (also its `--json` shape).
#[derive(Debug, Clone, Serialize)]
pub struct MachineSync {
    /// The machine's name.
    pub name: String,
    /// True when the machine was reached and its files copied.
    pub ok: bool,
    /// 0 when ok; otherwise the failing call's exit status (255: ssh could
    /// not connect or log in; -1: nothing could be run here).
    pub status: i32,
    /// A stable name of the failure: `host_key`, `unreachable`, `auth`,
    /// `spawn`, `remote_failed`, `no_copy_tool`, `local`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
    /// What went wrong, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was copied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// Files that could not be copied this time (vanished, unreadable):
    /// the copy went on without them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl MachineSync {
    /// A sync that failed before copying anything.
    pub fn failed(name: &str, kind: &'static str, status: i32, error: String) -> MachineSync {
        MachineSync {
            name: name.to_string(),
            ok: false,
            status,
            error_kind: Some(kind),
            error: Some(error),
            transfer: None,
            warnings: Vec::new(),
        }
    }
}

/// Syncs the machines named (all when `only` is `None`), one after the
/// other. A machine that fails is recorded and the rest go on; only a
/// broken `machines.json` is an error.
pub fn sync_machines(data: &DataDir, only: Option<&str>, opts: &SyncOptions) -> Result<Vec<MachineSync>, RemoteError> {
    let machines = Machines::load(data)?;
    if let Some(name) = only
        && machines.get(name).is_none()
    {
        return Err(RemoteError::Unknown(name.to_string()));
    }
    Ok(machines
        .machines
        .iter()
        .filter(|m| only.is_none_or(|n| n == m.name))
        .map(|m| sync_machine(data, m, opts))
        .collect())
}

/// Syncs one machine and records the outcome in its `state.json`.
pub fn sync_machine(data: &DataDir, machine: &Machine, opts: &SyncOptions) -> MachineSync {
    let started = Instant::now();
    let mut state = SyncState::load(data, &machine.name).unwrap_or_default();
    let outcome = run(data, machine, opts, started);
    let now = crate::time::now_ms();
    state.last_attempt_at = Some(now);
    match &outcome {
        Ok((probe, sync)) => {
            state.last_sync_at = Some(now);
            state.last_error = None;
            state.env = Some(probe.env.clone());
            state.last = sync.transfer.clone();
        }
        Err(sync) => state.last_error = sync.error.clone(),
    }
    let mut sync = match outcome {
        Ok((_, sync)) => sync,
        Err(sync) => *sync,
    };
    if let Err(e) = state.save(data, &machine.name)
        && sync.ok
    {
        sync = MachineSync::failed(&machine.name, "local", -1, e.to_string());
    }
    tracing::info!(machine = machine.name, ok = sync.ok, ms = started.elapsed().as_millis() as u64, "remote sync");
    sync
}

fn from_ssh(name: &str, e: SshError) -> Box<MachineSync> {
    Box::new(MachineSync::failed(name, e.kind(), e.status(), e.to_string()))
}

fn run(
    data: &DataDir,
    machine: &Machine,
    opts: &SyncOptions,
    started: Instant,
) -> Result<(probe::Probe, MachineSync), Box<MachineSync>> {
    let name = machine.name.as_str();
    let vars = connectors::variables_read();
    let found = probe::probe(&opts.ssh, machine, &vars).map_err(|e| from_ssh(name, e))?;
    let connectors = connectors::all();
    let roots = select::remote_roots(&connectors, &found.env.agent_env(), &machine.agents);
    let listed = probe::list(&opts.ssh, machine, &select::list_roots(&connectors, &roots), found.gnu_find)
        .map_err(|e| from_ssh(name, e))?;
    let selected = select::select(&connectors, &roots, &listed);
    let mirror = mirror_dir(data, name);
    std::fs::create_dir_all(&mirror)
        .map_err(|e| Box::new(MachineSync::failed(name, "local", -1, format!("{}: {e}", mirror.display()))))?;
    let rsync_here = matches!(opts.copy, CopyMethod::Auto | CopyMethod::Rsync) && rsync_available();
    let use_rsync = match opts.copy {
        CopyMethod::Rsync if !rsync_here || !found.rsync => {
            let side = if rsync_here { "the remote" } else { "this machine" };
            return Err(Box::new(MachineSync::failed(
                name,
                "no_copy_tool",
                -1,
                format!("rsync is not installed on {side}"),
            )));
        }
        CopyMethod::Rsync => true,
        CopyMethod::Auto => rsync_here && found.rsync,
        CopyMethod::Tar => false,
    };
    if !use_rsync && !found.tar {
        let why = "neither rsync nor tar is usable on the remote".to_string();
        return Err(Box::new(MachineSync::failed(name, "no_copy_tool", -1, why)));
    }
    let mut warnings = Vec::new();
    let mut transfer = if selected.is_empty() {
        Transfer { method: if use_rsync { "rsync" } else { "tar" }.into(), ..Transfer::default() }
    } else if use_rsync {
        rsync(&opts.ssh, machine, &selected, &mirror, &mut warnings).map_err(|e| from_ssh(name, e))?
    } else {
        tar(&opts.ssh, machine, &selected, &mirror, &mut warnings).map_err(|e| from_ssh(name, e))?
    };
    transfer.files_listed = listed.len();
    transfer.files_selected = selected.len();
    transfer.elapsed_ms = started.elapsed().as_millis() as u64;
    let sync = MachineSync {
        name: name.to_string(),
        ok: true,
        status: 0,
        error_kind: None,
        error: None,
        transfer: Some(transfer),
        warnings,
    };
    Ok((found, sync))
}

/// Whether `rsync` runs here.
fn rsync_available() -> bool {
    Command::new("rsync")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The selected paths, relative to `/`, NUL-separated: what `rsync
/// --files-from` and `tar -T` read.
fn name_list(selected: &[Listed]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in selected {
        let p = l.path.to_string_lossy();
        out.extend_from_slice(p.trim_start_matches('/').as_bytes());
        out.push(0);
    }
    out
}

/// Runs `cmd` with `input` on its stdin (from a thread, so a large list
/// never deadlocks against a full stdout pipe); its status, stdout, stderr.
fn run_with_input(mut cmd: Command, program: &str, input: Vec<u8>) -> Result<(i32, Vec<u8>, Vec<u8>), SshError> {
    let spawn_err = |e: std::io::Error| SshError::Spawn { program: program.to_string(), detail: e.to_string() };
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(spawn_err)?;
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
    });
    let out = child.wait_with_output().map_err(spawn_err)?;
    let _ = writer.join();
    Ok((out.status.code().unwrap_or(-1), out.stdout, out.stderr))
}

/// rsync's exit statuses that still copied everything it could: 23
/// (some files could not be read), 24 (some vanished while copying).
const RSYNC_PARTIAL: [i32; 2] = [23, 24];

fn rsync(
    ssh: &SshOptions,
    machine: &Machine,
    selected: &[Listed],
    mirror: &Path,
    warnings: &mut Vec<String>,
) -> Result<Transfer, SshError> {
    let mut cmd = Command::new("rsync");
    cmd.args(["--from0", "--files-from=-", "--times", "--inplace", "--stats", "--no-motd", "-e"])
        .arg(ssh.rsync_shell(machine))
        .arg(format!("{}:/", machine.destination()))
        .arg(format!("{}/", mirror.display()));
    let (status, stdout, stderr) = run_with_input(cmd, "rsync", name_list(selected))?;
    if status != 0 && !RSYNC_PARTIAL.contains(&status) {
        return Err(ssh.classify(machine, "rsync", status, &stderr));
    }
    if status != 0 {
        warnings
            .extend(String::from_utf8_lossy(&stderr).lines().filter(|l| l.starts_with("rsync:")).map(str::to_string));
    }
    let stats = String::from_utf8_lossy(&stdout);
    Ok(Transfer {
        method: "rsync".into(),
        files_copied: stat(&stats, "Number of regular files transferred")
            .or_else(|| stat(&stats, "Number of files transferred"))
            .unwrap_or(0) as usize,
        bytes_copied: stat(&stats, "Literal data").unwrap_or(0),
        bytes_received: stat(&stats, "Total bytes received").unwrap_or(0),
        ..Transfer::default()
    })
}

/// A number from rsync's `--stats` (`Literal data: 1,234 bytes`).
fn stat(stats: &str, label: &str) -> Option<u64> {
    let line = stats.lines().find(|l| l.trim_start().starts_with(label))?;
    let value = line.split_once(':')?.1;
    let digits: String = value.split_whitespace().next()?.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether the mirror's copy of `l` differs from what the listing says.
fn changed(mirror: &Path, l: &Listed) -> bool {
    let Ok(meta) = std::fs::metadata(mirrored(mirror, &l.path)) else { return true };
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs());
    meta.len() != l.size || mtime != Some(l.mtime.max(0) as u64)
}

fn tar(
    ssh: &SshOptions,
    machine: &Machine,
    selected: &[Listed],
    mirror: &Path,
    warnings: &mut Vec<String>,
) -> Result<Transfer, SshError> {
    let todo: Vec<Listed> = selected.iter().filter(|l| changed(mirror, l)).cloned().collect();
    let mut t = Transfer { method: "tar".into(), ..Transfer::default() };
    if todo.is_empty() {
        return Ok(t);
    }
    let program = ssh.program.display().to_string();
    let spawn_err = |p: &str, e: std::io::Error| SshError::Spawn { program: p.to_string(), detail: e.to_string() };
    let mut remote = Command::new(&ssh.program)
        .args(ssh.args(machine))
        .arg("tar -C / -cf - --null -T -")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_err(&program, e))?;
    let mut local = Command::new("tar")
        .args(["--no-same-owner", "--no-same-permissions", "-xf", "-", "-C"])
        .arg(mirror)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_err("tar", e))?;
    let names = name_list(&todo);
    let mut remote_in = remote.stdin.take();
    let feeder = std::thread::spawn(move || {
        if let Some(s) = remote_in.as_mut() {
            let _ = s.write_all(&names);
        }
    });
    let mut remote_err = remote.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(e) = remote_err.as_mut() {
            let _ = e.read_to_end(&mut buf);
        }
        buf
    });
    let copied = match (remote.stdout.take(), local.stdin.take()) {
        (Some(mut from), Some(mut to)) => std::io::copy(&mut from, &mut to).unwrap_or(0),
        _ => 0,
    };
    let _ = feeder.join();
    let stderr = err_reader.join().unwrap_or_default();
    let status = remote.wait().map_err(|e| spawn_err(&program, e))?.code().unwrap_or(-1);
    let local_out = local.wait_with_output().map_err(|e| spawn_err("tar", e))?;
    if status == 255 || (status != 0 && copied == 0) {
        return Err(ssh.classify(machine, "tar", status, &stderr));
    }
    if status != 0 {
        warnings.extend(String::from_utf8_lossy(&stderr).lines().map(str::to_string));
    }
    if !local_out.status.success() {
        warnings.push(format!("local tar: {}", probe::last_line(&local_out.stderr)));
    }
    t.files_copied = todo.len();
    t.bytes_copied = copied;
    t.bytes_received = copied;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_stats_read_with_and_without_separators() {
        let s = "Number of files: 3 (reg: 2, dir: 1)\nNumber of regular files transferred: 1\n\
                 Literal data: 1,234 bytes\nMatched data: 200,000 bytes\nTotal bytes received: 2,001\n";
        assert_eq!(stat(s, "Number of regular files transferred"), Some(1));
        assert_eq!(stat(s, "Literal data"), Some(1234));
        assert_eq!(stat(s, "Total bytes received"), Some(2001));
        assert_eq!(stat(s, "Nothing"), None);
    }
}
