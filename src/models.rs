//! Installed model files: install from a directory or a URL the user names,
//! verify against checksums pinned in the binary, list, remove.
//!
//! Nothing is downloaded unless the user asks. A model whose files do not
//! match the pinned sha256 is refused: an embedder must be exactly the one a
//! tier was built with, or vectors from two models would be mixed.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::DataDir;

/// The quality tier's model id (and its folder under `models/`).
pub use crate::embed::minilm::MINILM_ID;

/// One file of a model, with its pinned checksum.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    /// Path relative to the model's folder (and to the install source).
    pub path: &'static str,
    /// Expected sha256, lowercase hex.
    pub sha256: &'static str,
    /// Needed to run; optional files are copied and verified when present.
    pub required: bool,
    /// Its size in bytes as published: a download is cut off past it (an
    /// endless or wrong response never fills the disk).
    pub size: u64,
}

/// sentence-transformers/all-MiniLM-L6-v2, as published (Apache-2.0).
pub const MINILM_FILES: &[ModelFile] = &[
    ModelFile {
        path: "config.json",
        sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        required: true,
        size: 612,
    },
    ModelFile {
        path: "tokenizer.json",
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        required: true,
        size: 466_247,
    },
    ModelFile {
        path: "model.safetensors",
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        required: true,
        size: 90_868_376,
    },
    ModelFile {
        path: "1_Pooling/config.json",
        sha256: "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        required: false,
        size: 190,
    },
    ModelFile {
        path: "config_sentence_transformers.json",
        sha256: "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        required: false,
        size: 116,
    },
    ModelFile {
        path: "modules.json",
        sha256: "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        required: false,
        size: 349,
    },
    ModelFile {
        path: "sentence_bert_config.json",
        sha256: "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
        required: false,
        size: 53,
    },
    ModelFile {
        path: "special_tokens_map.json",
        sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        required: false,
        size: 112,
    },
    ModelFile {
        path: "tokenizer_config.json",
        sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        required: false,
        size: 350,
    },
    ModelFile {
        path: "vocab.txt",
        sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        required: false,
        size: 231_508,
    },
    ModelFile {
        path: "MODEL_CARD.md",
        sha256: "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
        required: false,
        size: 10_454,
    },
];

/// The checksum recorded in tier manifests for the MiniLM model.
pub fn minilm_checksum() -> &'static str {
    MINILM_FILES.iter().find(|f| f.path == "model.safetensors").expect("pinned").sha256
}

/// Why installing, verifying or removing a model failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// Path of the file that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's checksum differs from the pinned one; the file was not installed.
    #[error("{path}: sha256 {actual} does not match the pinned {expected}; refusing this file")]
    Mismatch {
        /// The file, relative to the model's folder.
        path: PathBuf,
        /// The pinned sha256.
        expected: &'static str,
        /// The sha256 it has.
        actual: String,
    },
    /// A required file is absent from the install source.
    #[error("{path}: required model file missing")]
    Missing {
        /// The file, relative to the model's folder.
        path: PathBuf,
    },
    /// A download failed (network error or an unexpected HTTP status).
    #[error("download {url}: {message}")]
    Download {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Nothing to verify: the model's weights are not installed.
    #[error("no model installed at {0} (run `cass models install --from DIR`)")]
    NotInstalled(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io { path: path.to_path_buf(), source }
}

/// The folder the MiniLM model is installed in.
pub fn minilm_dir(data: &DataDir) -> PathBuf {
    data.models().join(MINILM_ID)
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where install takes files from.
pub enum Source<'a> {
    /// A local directory holding the model files under their usual names.
    Dir(&'a Path),
    /// A base URL; each file is fetched from `<url>/<path>`.
    Url(&'a str),
}

/// What install did.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// Id of the installed model.
    pub model: &'static str,
    /// The folder it was installed in.
    pub dir: PathBuf,
    /// The files installed, by relative path (optional ones only when present).
    pub files: Vec<String>,
    /// Total size of those files in bytes.
    pub bytes: u64,
}

/// Installs the MiniLM files into `models/minilm-384/`, verifying each one.
/// Files land as `.partial` first and are renamed only after every file
/// verified, so a failed install never leaves a half-model in place.
pub fn install(
    data: &DataDir,
    source: Source<'_>,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<InstallReport, ModelError> {
    let dest = minilm_dir(data);
    fs::create_dir_all(&dest).map_err(io(&dest))?;
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut files = Vec::new();
    let mut bytes = 0;
    for f in MINILM_FILES {
        let target = dest.join(f.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let partial = PathBuf::from(format!("{}.partial", target.display()));
        let fetched = match &source {
            Source::Dir(dir) => copy_file(&dir.join(f.path), &partial)?,
            Source::Url(url) => {
                download(&format!("{}/{}", url.trim_end_matches('/'), f.path), &partial, f.size, progress)?
            }
        };
        let Some(len) = fetched else {
            if f.required {
                return Err(ModelError::Missing { path: PathBuf::from(f.path) });
            }
            continue;
        };
        let actual = sha256_file(&partial)?;
        if actual != f.sha256 {
            let _ = fs::remove_file(&partial);
            return Err(ModelError::Mismatch { path: PathBuf::from(f.path), expected: f.sha256, actual });
        }
        bytes += len;
        files.push(f.path.to_string());
        staged.push((partial, target));
    }
    for (partial, target) in staged {
        fs::rename(&partial, &target).map_err(io(&target))?;
    }
    Ok(InstallReport { model: MINILM_ID, dir: dest, files, bytes })
}

/// Copies `from` to `to`; `Ok(None)` when `from` does not exist.
fn copy_file(from: &Path, to: &Path) -> Result<Option<u64>, ModelError> {
    match fs::copy(from, to) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::Io { path: from.to_path_buf(), source: e }),
    }
}

/// Downloads `url` into `to`, resuming a `.partial` left by an earlier try
/// (HTTP Range). `Ok(None)` on 404. More than `limit` bytes (the file's
/// pinned size) is refused as soon as it arrives.
fn download(url: &str, to: &Path, limit: u64, progress: &dyn Fn(&str, u64, u64)) -> Result<Option<u64>, ModelError> {
    let err = |message: String| ModelError::Download { url: url.to_string(), message };
    let have = fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = req.call().map_err(|e| err(e.to_string()))?;
    let status = resp.status().as_u16();
    let (mut file, start) = match status {
        404 => return Ok(None),
        206 => (fs::OpenOptions::new().append(true).open(to).map_err(io(to))?, have),
        200 => (File::create(to).map_err(io(to))?, 0),
        416 if have > 0 => return Ok(Some(have)), // already complete
        s => return Err(err(format!("HTTP status {s}"))),
    };
    let total = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| n + start)
        .unwrap_or(0);
    let mut body = resp.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = start;
    loop {
        let n = body.read(&mut buf).map_err(|e| err(e.to_string()))?;
        if n == 0 {
            break;
        }
        if done + n as u64 > limit {
            drop(file);
            let _ = fs::remove_file(to);
            return Err(err(format!("the response is larger than the file's pinned {limit} bytes; refusing it")));
        }
        file.write_all(&buf[..n]).map_err(io(to))?;
        done += n as u64;
        progress(url, done, total);
    }
    file.sync_all().map_err(io(to))?;
    Ok(Some(done))
}

/// One installed file's state.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    /// Path relative to the model's folder.
    pub path: String,
    /// True when the file is present and matches its pinned checksum.
    pub ok: bool,
    /// `ok`, `missing`, or both checksums when they differ.
    pub detail: String,
}

/// Re-hashes every installed file against the pinned checksums.
pub fn verify(data: &DataDir) -> Result<Vec<FileCheck>, ModelError> {
    let dir = minilm_dir(data);
    if !dir.join("model.safetensors").exists() {
        return Err(ModelError::NotInstalled(dir));
    }
    let mut out = Vec::new();
    for f in MINILM_FILES {
        let p = dir.join(f.path);
        if !p.exists() {
            if f.required {
                out.push(FileCheck { path: f.path.into(), ok: false, detail: "missing".into() });
            }
            continue;
        }
        let actual = sha256_file(&p)?;
        let ok = actual == f.sha256;
        let detail = if ok { "ok".into() } else { format!("sha256 {actual}, pinned {}", f.sha256) };
        out.push(FileCheck { path: f.path.into(), ok, detail });
    }
    Ok(out)
}

/// Installed models and their size (no hashing).
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    /// Id of the model.
    pub model: &'static str,
    /// The folder it is (or would be) installed in.
    pub dir: PathBuf,
    /// True when every required file is present (not re-hashed).
    pub installed: bool,
    /// Bytes of its files on disk.
    pub bytes: u64,
    /// The semantic tier that needs it.
    pub tier: &'static str,
}

/// Every model cass knows, installed or not, from file metadata only.
pub fn list(data: &DataDir) -> Vec<Installed> {
    let dir = minilm_dir(data);
    let bytes = MINILM_FILES.iter().filter_map(|f| fs::metadata(dir.join(f.path)).ok()).map(|m| m.len()).sum();
    let installed = MINILM_FILES.iter().filter(|f| f.required).all(|f| dir.join(f.path).exists());
    vec![Installed { model: MINILM_ID, dir, installed, bytes, tier: "quality" }]
}

/// Removes the installed model (the quality tier stays, but cannot run).
pub fn remove(data: &DataDir) -> Result<bool, ModelError> {
    let dir = minilm_dir(data);
    if !dir.exists() {
        return Ok(false);
    }
    fs::remove_dir_all(&dir).map_err(io(&dir))?;
    Ok(true)
}
