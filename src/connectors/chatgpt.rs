//! ChatGPT desktop (macOS): `~/Library/Application Support/com.openai.chat/`.
//! `conversations-<uuid>/*.json` (v1) are plain JSON documents holding a
//! `mapping` tree of message nodes. `conversations-v2-*` / `-v3-*` hold
//! AES-256-GCM encrypted `.data` files (12-byte nonce, ciphertext, 16-byte
//! tag; the plaintext is the same JSON document) whose key sits in the
//! macOS Keychain, unreadable to other programs. With a key the user gives
//! ([`ChatGptKey`]) they are read like v1; without one they are found and
//! reported as encrypted, never skipped silently.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use base64::Engine as _;
use ring::aead;

use serde_json::Value;

use super::content::{self, str_field};
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Message, Role};
use crate::time;

/// Reads the ChatGPT desktop app's conversations; opens its encrypted
/// stores with the user's key, or reports them as encrypted.
pub struct ChatGpt {
    key: ChatGptKey,
}

impl ChatGpt {
    /// The connector, opening v2/v3 stores with `key`.
    pub fn new(key: ChatGptKey) -> ChatGpt {
        ChatGpt { key }
    }
}

/// Bytes of an AES-256 key.
const KEY_BYTES: usize = 32;
/// Bytes of the nonce before the ciphertext.
const NONCE_BYTES: usize = 12;

/// The key to the ChatGPT app's v2/v3 stores, as the user gave it (the
/// app keeps it in a Keychain group only OpenAI-signed programs read, so a
/// user exports it themselves). Never printed: `Debug` names the state only.
#[derive(Clone, Default)]
pub enum ChatGptKey {
    /// No key given: encrypted stores are reported as such.
    #[default]
    Absent,
    /// A usable 256-bit key.
    Ready([u8; KEY_BYTES]),
    /// A key was given but cannot be used; why, for the report.
    Invalid(String),
}

impl std::fmt::Debug for ChatGptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatGptKey::Absent => f.write_str("ChatGptKey::Absent"),
            ChatGptKey::Ready(_) => f.write_str("ChatGptKey::Ready(..)"),
            ChatGptKey::Invalid(why) => write!(f, "ChatGptKey::Invalid({why:?})"),
        }
    }
}

impl ChatGptKey {
    /// A key given as base64 text (`CHATGPT_ENCRYPTION_KEY`); `name` says
    /// where it came from in the error.
    pub fn from_base64(text: &str, name: &str) -> ChatGptKey {
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) => Self::from_bytes(&bytes, name),
            Err(_) => ChatGptKey::Invalid(format!("{name} is not base64")),
        }
    }

    /// A key file holding the raw 32 bytes. A missing file is no key. The
    /// file must be the user's own regular file, readable by nobody else
    /// (mode 0600 or stricter) and not a symbolic link, so the key cannot
    /// be swapped or read by another account.
    pub fn from_file(path: &Path) -> ChatGptKey {
        let shown = path.display();
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ChatGptKey::Absent,
            Err(e) => return ChatGptKey::Invalid(format!("key file {shown}: {e}")),
        };
        if meta.file_type().is_symlink() {
            return ChatGptKey::Invalid(format!("key file {shown} is a symbolic link; put the key itself there"));
        }
        if !meta.is_file() {
            return ChatGptKey::Invalid(format!("key file {shown} is not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return ChatGptKey::Invalid(format!(
                    "key file {shown} has mode {mode:o}, readable by others; run `chmod 600` on it"
                ));
            }
        }
        match std::fs::read(path) {
            Ok(bytes) => Self::from_bytes(&bytes, &format!("key file {shown}")),
            Err(e) => ChatGptKey::Invalid(format!("key file {shown}: {e}")),
        }
    }

    fn from_bytes(bytes: &[u8], name: &str) -> ChatGptKey {
        match <[u8; KEY_BYTES]>::try_from(bytes) {
            Ok(key) => ChatGptKey::Ready(key),
            Err(_) => ChatGptKey::Invalid(format!("{name} holds {} bytes, not a {KEY_BYTES}-byte key", bytes.len())),
        }
    }

    /// What the key lets cass read, for noticing a change between runs:
    /// never the key, only a short one-way digest of it.
    fn fingerprint(&self) -> String {
        use sha2::Digest;
        match self {
            ChatGptKey::Absent => "no key".into(),
            ChatGptKey::Invalid(why) => format!("unusable key: {why}"),
            ChatGptKey::Ready(key) => {
                let digest = sha2::Sha256::new().chain_update(b"cass chatgpt key\0").chain_update(key).finalize();
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("key {hex}")
            }
        }
    }

    /// The plaintext of an encrypted store, or why it cannot be had.
    fn open(&self, mut sealed: Vec<u8>) -> Result<Vec<u8>, String> {
        let key = match self {
            ChatGptKey::Absent => {
                return Err("encrypted (ChatGPT v2/v3 store, AES-256-GCM; the key is in the macOS Keychain and not \
                            readable by other programs; give it as CHATGPT_ENCRYPTION_KEY or a key file, see \
                            docs/CONNECTORS.md)"
                    .into());
            }
            ChatGptKey::Invalid(why) => return Err(format!("encrypted, and the key given cannot be used: {why}")),
            ChatGptKey::Ready(key) => key,
        };
        if sealed.len() < NONCE_BYTES + aead::AES_256_GCM.tag_len() {
            return Err(format!("encrypted store of {} bytes, too short to hold a nonce and a tag", sealed.len()));
        }
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| "unusable AES-256 key".to_string())?;
        let nonce_bytes: [u8; NONCE_BYTES] = sealed[..NONCE_BYTES].try_into().expect("length checked");
        let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes);
        let body = &mut sealed[NONCE_BYTES..];
        let len = aead::LessSafeKey::new(unbound)
            .open_in_place(nonce, aead::Aad::empty(), body)
            .map_err(|_| {
                "encrypted, and the key given does not open it (another key, or the file is damaged)".to_string()
            })?
            .len();
        sealed.copy_within(NONCE_BYTES..NONCE_BYTES + len, 0);
        sealed.truncate(len);
        Ok(sealed)
    }
}

impl Connector for ChatGpt {
    fn agent(&self) -> Agent {
        Agent::ChatGpt
    }

    /// The app exists only on macOS, so this is its one location everywhere
    /// (a synced or copied home on Linux is read the same way).
    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        vec![Root { path: env.home.join("Library/Application Support/com.openai.chat"), origin: "default (macOS app)" }]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let dir = path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("");
        if !dir.starts_with("conversations-") {
            return false;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => true,
            Some("data") => is_encrypted_store(dir),
            _ => false,
        }
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    fn reader_config(&self) -> Option<String> {
        Some(self.key.fingerprint())
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let doc = if req.path.extension().is_some_and(|e| e == "data") {
            let unreadable = |reason| ParseError::Unreadable { path: req.path.to_path_buf(), reason, retry: false };
            let sealed = super::lines::read_whole(req.path, super::document::WHOLE_FILE_LIMIT)
                .map_err(|source| ParseError::Io { path: req.path.to_path_buf(), source })?;
            let plain = self.key.open(sealed).map_err(unreadable)?;
            serde_json::from_slice(&plain).map_err(|e| ParseError::Format {
                path: req.path.to_path_buf(),
                message: format!("decrypted, but not a JSON document: {e}"),
            })?
        } else {
            super::document::read_json(req.path)?
        };
        let external_id = str_field(&doc, "id")
            .or_else(|| str_field(&doc, "conversation_id"))
            .map(str::to_string)
            .unwrap_or_else(|| req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let title = str_field(&doc, "title").map(str::to_string);
        let header = ConversationHeader { external_id, title_explicit: title.is_some(), title, workspace: None };
        let nodes: Vec<&Value> = match doc.get("mapping").and_then(Value::as_object) {
            Some(mapping) => ordered_nodes(mapping, str_field(&doc, "current_node")),
            None => doc.get("messages").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default(),
        };
        let mut messages = Vec::new();
        for (i, node) in nodes.into_iter().enumerate() {
            let msg = node.get("message").unwrap_or(node);
            if msg.is_null() {
                continue; // the tree's root node carries no message
            }
            if let Some(m) = to_message(msg, i as u64 + 1, sink) {
                messages.push(m);
            }
        }
        super::document::emit_conversation(sink, header, messages);
        Ok(super::document::whole_file_end(req.path))
    }
}

fn is_encrypted_store(dir: &str) -> bool {
    dir.starts_with("conversations-v2-") || dir.starts_with("conversations-v3-")
}

/// The visible branch of the node tree: the parent chain ending at
/// `current_node` when the file names one (regenerated and edited branches
/// are left out); otherwise every node in `create_time` order.
fn ordered_nodes<'a>(mapping: &'a serde_json::Map<String, Value>, current: Option<&str>) -> Vec<&'a Value> {
    if let Some(mut id) = current.filter(|c| mapping.contains_key(*c)) {
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        while let Some(node) = mapping.get(id) {
            if !seen.insert(id) {
                break; // a cycle: stop rather than loop
            }
            chain.push(node);
            match node.get("parent").and_then(Value::as_str) {
                Some(p) => id = p,
                None => break,
            }
        }
        chain.reverse();
        return chain;
    }
    let created: HashMap<&str, f64> = mapping
        .iter()
        .map(|(k, n)| (k.as_str(), n.pointer("/message/create_time").and_then(Value::as_f64).unwrap_or(f64::MAX)))
        .collect();
    let mut keys: Vec<&String> = mapping.keys().collect();
    keys.sort_by(|a, b| created[a.as_str()].total_cmp(&created[b.as_str()]).then_with(|| a.cmp(b)));
    keys.into_iter().map(|k| &mapping[k]).collect()
}

fn to_message(msg: &Value, n: u64, sink: &mut dyn ParseSink) -> Option<Message> {
    let label = msg.pointer("/author/role").or_else(|| msg.get("role")).and_then(Value::as_str).unwrap_or("");
    let role = match Role::from_agent_label(label) {
        Some(Role::System) => return None, // the hidden system prompt
        Some(r) => r,
        None => {
            sink.malformed(0, format!("message {n}: unknown role '{label}'"));
            return None;
        }
    };
    let body = msg.pointer("/content/parts").or_else(|| msg.get("content"));
    // Parts are strings or `{content_type, text | asset_pointer}` objects:
    // text objects are kept, images and other assets are not text.
    let text = body.and_then(content::flatten).unwrap_or_default();
    if text.trim().is_empty() {
        return None;
    }
    let created_at = msg.get("create_time").and_then(time::parse_value);
    let author = msg.pointer("/metadata/model_slug").and_then(Value::as_str).map(str::to_string);
    Some(super::document::message(role, author, created_at, text))
}
