//! The ChatGPT desktop app's v2/v3 stores (`.data`, AES-256-GCM: 12-byte
//! nonce ‖ ciphertext ‖ 16-byte tag) opened with a key the user gives —
//! `CHATGPT_ENCRYPTION_KEY` (base64) or a private key file — and reported,
//! never skipped silently, when there is no key, a key that cannot be used
//! or one that does not open the file. The stores are sealed here with the
//! real cipher (ring), laid out where the app keeps them, indexed by the
//! real binary, and the store is checked exactly. (Unix: key file modes.)
#![cfg(unix)]

mod common;
use common::*;

use base64::Engine as _;
use ring::aead;
use serde_json::{Value, json};

const APP: &str = "Library/Application Support/com.openai.chat";
const KEY: [u8; 32] = *b"cass-test-key-0123456789abcdefgh";

/// `doc` sealed with `key` and `nonce` as the app stores it.
fn seal(key: &[u8; 32], nonce: [u8; 12], doc: &Value) -> Vec<u8> {
    let sealing = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).unwrap());
    let mut body = serde_json::to_vec(doc).unwrap();
    sealing.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::empty(), &mut body).unwrap();
    let mut out = nonce.to_vec();
    out.extend(body);
    out
}

fn node(id: &str, parent: Option<&str>, role: &str, text: &str, at: f64) -> (String, Value) {
    let mut message = json!({"author": {"role": role}, "create_time": at,
                             "content": {"content_type": "text", "parts": [text]}});
    if role == "assistant" {
        message["metadata"] = json!({"model_slug": "gpt-4o"});
    }
    (id.to_string(), json!({"id": id, "parent": parent, "message": message}))
}

fn conversation(id: &str, title: &str, turns: &[(&str, &str, f64)]) -> Value {
    let mut mapping = serde_json::Map::new();
    let mut parent: Option<String> = None;
    for (i, (role, text, at)) in turns.iter().enumerate() {
        let nid = format!("{id}-n{i}");
        let (k, v) = node(&nid, parent.as_deref(), role, text, *at);
        mapping.insert(k, v);
        parent = Some(nid);
    }
    json!({"id": id, "title": title, "current_node": parent, "mapping": mapping})
}

/// Lays out two v3 stores and one v2 store sealed with [`KEY`].
fn install(sb: &Sandbox) {
    let stores = [
        (
            "conversations-v3-5b1e0c2a-9d4f-4e7a-8c3b-1f2e3d4c5b6a/c-rounding.data",
            conversation(
                "c-rounding",
                "Banker's rounding",
                &[
                    ("user", "Which rounding does the ledger use?", 1_760_000_000.0),
                    ("assistant", "Half-to-even, in rounding.rs.", 1_760_000_004.5),
                ],
            ),
        ),
        (
            "conversations-v3-5b1e0c2a-9d4f-4e7a-8c3b-1f2e3d4c5b6a/c-csv.data",
            conversation(
                "c-csv",
                "CSV export quoting",
                &[
                    ("user", "Quote fields that contain semicolons", 1_760_100_000.0),
                    ("assistant", "The writer now quotes ; as well as ,.", 1_760_100_003.0),
                    ("user", "And newlines?", 1_760_100_010.0),
                ],
            ),
        ),
        (
            "conversations-v2-0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d/c-legacy.data",
            conversation("c-legacy", "Older store", &[("user", "A v2 question about tokio", 1_750_000_000.0)]),
        ),
    ];
    for (i, (rel, doc)) in stores.iter().enumerate() {
        let path = sb.home().join(APP).join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, seal(&KEY, [i as u8 + 1; 12], doc)).unwrap();
    }
}

fn index(sb: &Sandbox, key_b64: Option<&str>) -> Value {
    let mut cmd = sb.cass();
    cmd.args(["index", "--no-semantic", "--json"]);
    if let Some(k) = key_b64 {
        cmd.env("CHATGPT_ENCRYPTION_KEY", k);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (file name, reason) of each unreadable ChatGPT file, sorted.
fn unreadable(report: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = agent_entry(report, "chatgpt")["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let path = u["path"].as_str().unwrap();
            (path.rsplit('/').next().unwrap().to_string(), u["error"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

fn chatgpt_conversations(sb: &Sandbox) -> i64 {
    sb.db().query_row("SELECT COUNT(*) FROM conversations WHERE agent = 'chatgpt'", [], |r| r.get(0)).unwrap()
}

#[test]
fn encrypted_stores_open_with_a_private_key_file() {
    let sb = Sandbox::new();
    install(&sb);
    // No key: every store is found and reported as encrypted.
    let first = index(&sb, None);
    let reasons = unreadable(&first);
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().all(|(_, r)| r.starts_with("encrypted (") && r.contains("CHATGPT_ENCRYPTION_KEY")));
    assert_eq!(chatgpt_conversations(&sb), 0);

    // A key file others can read is refused, with the fix named.
    let key_file = sb.home().join(".config/cass/chatgpt_key.bin");
    std::fs::create_dir_all(key_file.parent().unwrap()).unwrap();
    std::fs::write(&key_file, KEY).unwrap();
    set_mode(&key_file, 0o644);
    let loose = index(&sb, None);
    let reasons = unreadable(&loose);
    assert_eq!(reasons.len(), 3, "the files are read again with the new setting: {reasons:?}");
    assert!(reasons.iter().all(|(_, r)| r.contains("mode 644") && r.contains("chmod 600")), "{reasons:?}");
    assert_eq!(chatgpt_conversations(&sb), 0);

    // Mode 0600: the unchanged files are read again and open.
    set_mode(&key_file, 0o600);
    let open = index(&sb, None);
    assert_eq!(unreadable(&open), Vec::<(String, String)>::new());
    let gpt = agent_entry(&open, "chatgpt");
    assert_eq!((gpt["conversations"].as_u64(), gpt["messages"].as_u64()), (Some(3), Some(6)), "{gpt}");
    let db = sb.db();
    assert_eq!(
        conversation_row(&db, "c-rounding"),
        conv("Banker's rounding", None, 1_760_000_000_000, 1_760_000_004_500, 2)
    );
    assert_eq!(
        full_messages(&db, "c-csv"),
        vec![
            row("user", None, Some(1_760_100_000_000), "Quote fields that contain semicolons"),
            row("assistant", Some("gpt-4o"), Some(1_760_100_003_000), "The writer now quotes ; as well as ,."),
            row("user", None, Some(1_760_100_010_000), "And newlines?"),
        ]
    );
    assert_eq!(messages_of(&db, "c-legacy"), [("user".to_string(), "A v2 question about tokio".to_string())]);
    let hits = sb.json(&["search", "semicolons", "--mode", "lexical"]);
    assert_eq!(hits["hits"][0]["agent"], "chatgpt", "{hits}");

    // Unchanged files with the same key are not read again.
    let again = index(&sb, None);
    assert_eq!(again["files_skipped"], again["files_scanned"], "{again}");

    // A symbolic link in place of the key file is refused; what was read stays indexed.
    let real = sb.home().join("key-elsewhere.bin");
    std::fs::rename(&key_file, &real).unwrap();
    std::os::unix::fs::symlink(&real, &key_file).unwrap();
    let linked = index(&sb, None);
    let reasons = unreadable(&linked);
    assert_eq!(reasons.len(), 3);
    assert!(reasons.iter().all(|(_, r)| r.contains("symbolic link")), "{reasons:?}");
    assert_eq!(chatgpt_conversations(&sb), 3);
}

#[test]
fn a_base64_key_opens_stores_and_a_wrong_or_damaged_one_is_reported() {
    let sb = Sandbox::new();
    install(&sb);
    // One store damaged: a flipped byte fails the tag, the others open.
    let damaged = sb.home().join(APP).join("conversations-v3-5b1e0c2a-9d4f-4e7a-8c3b-1f2e3d4c5b6a/c-csv.data");
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&damaged, bytes).unwrap();
    // A store too short to hold a nonce and a tag.
    let short = sb.home().join(APP).join("conversations-v3-5b1e0c2a-9d4f-4e7a-8c3b-1f2e3d4c5b6a/c-short.data");
    std::fs::write(&short, [7u8; 20]).unwrap();

    let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
    let report = index(&sb, Some(&b64(&KEY)));
    assert_eq!(
        unreadable(&report),
        [
            (
                "c-csv.data".to_string(),
                "encrypted, and the key given does not open it (another key, or the file is damaged)".to_string()
            ),
            (
                "c-short.data".to_string(),
                "encrypted store of 20 bytes, too short to hold a nonce and a tag".to_string()
            ),
        ]
    );
    assert_eq!(chatgpt_conversations(&sb), 2);

    // Another key opens nothing; text that is no base64 key says so.
    let sb2 = Sandbox::new();
    install(&sb2);
    let wrong = index(&sb2, Some(&b64(&[9u8; 32])));
    assert!(unreadable(&wrong).iter().all(|(_, r)| r.contains("does not open it")), "{wrong}");
    let not_b64 = index(&sb2, Some("not base64!"));
    assert!(unreadable(&not_b64).iter().all(|(_, r)| r.ends_with("CHATGPT_ENCRYPTION_KEY is not base64")), "{not_b64}");
    let short_key = index(&sb2, Some(&b64(&[1u8; 16])));
    assert!(
        unreadable(&short_key).iter().all(|(_, r)| r.ends_with("holds 16 bytes, not a 32-byte key")),
        "{short_key}"
    );
    assert_eq!(chatgpt_conversations(&sb2), 0);
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
