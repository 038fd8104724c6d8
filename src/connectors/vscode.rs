//! The VS Code family of editors: where their `User/` directories are, and
//! how they write workspace locations (`file://` and `vscode-remote://` URIs).
//! Cline, Roo Code, Amp and Copilot Chat keep their data under these.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::AgentEnv;

/// Editors whose `User/` directory may hold extension storage.
pub const EDITORS: &[&str] = &["Code", "Code - Insiders", "VSCodium", "Cursor"];

/// Each editor's `User/` directory on this platform, with the origin of its
/// base directory (`default`, `XDG_CONFIG_HOME`, `APPDATA`).
pub fn user_dirs(env: &AgentEnv) -> Vec<(PathBuf, &'static str)> {
    let (base, origin) = env.app_config_dir();
    EDITORS.iter().map(|e| (base.join(e).join("User"), origin)).collect()
}

/// A local path from a workspace URI: `file:///home/me/my%20proj` →
/// `/home/me/my proj`; `vscode-remote://ssh-remote+<host>/srv/app` →
/// `/srv/app` (the path on the remote machine). Plain paths pass through.
pub fn path_from_uri(uri: &str) -> Option<String> {
    let path = if let Some(rest) = uri.strip_prefix("file://") {
        rest.to_string()
    } else if let Some(rest) = uri.strip_prefix("vscode-remote://") {
        // The authority (`ssh-remote+…`, percent-encoded) ends at the first `/`.
        let slash = rest.find('/')?;
        rest[slash..].to_string()
    } else if uri.starts_with('/') {
        uri.to_string()
    } else {
        return None;
    };
    let decoded = percent_decode(&path);
    // `file:///c%3A/Users/x` on Windows: drop the slash before the drive.
    let bytes = decoded.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'/' && bytes[2] == b':' {
        return Some(decoded[1..].to_string());
    }
    Some(decoded)
}

/// Decodes `%XX` escapes (invalid escapes are kept as written).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The folder a `workspaceStorage/<id>/` directory belongs to, from its
/// `workspace.json` (`{"folder": "file:///…"}` or `{"workspace": "…"}`).
pub fn workspace_of_storage(storage_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(storage_dir.join("workspace.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let uri = v.get("folder").or_else(|| v.get("workspace")).and_then(Value::as_str)?;
    path_from_uri(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_workspace_uris() {
        assert_eq!(path_from_uri("file:///home/tester/cursor%20project").unwrap(), "/home/tester/cursor project");
        assert_eq!(
            path_from_uri("vscode-remote://ssh-remote+%7B%22host%22%3A%22prod%22%7D/home/ubuntu/remote-cursor")
                .unwrap(),
            "/home/ubuntu/remote-cursor"
        );
        assert_eq!(path_from_uri("file:///c%3A/Users/me/proj").unwrap(), "c:/Users/me/proj");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(path_from_uri("untitled:Untitled-1"), None);
    }
}
