//! What cass keeps out of its store, compiled from [`PrivacySettings`]
//! once per writer: the redactor every message and title passes before it
//! is stored, and the exclusions (agents, session-file and workspace globs).
//! Forgotten conversations live in the store itself
//! ([`crate::store::privacy`]), since `cass forget` records them there.

pub mod exclude;

pub use exclude::{ExcludeError, Exclusions};

use crate::redact::{RedactError, Redactor};
use crate::settings::PrivacySettings;

/// Why the privacy settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A redaction pattern does not compile.
    #[error(transparent)]
    Redact(#[from] RedactError),
    /// An exclude glob does not compile.
    #[error(transparent)]
    Exclude(#[from] ExcludeError),
}

/// The privacy settings, compiled.
#[derive(Debug)]
pub struct Privacy {
    redactor: Option<Redactor>,
    exclusions: Exclusions,
}

/// What a store records when its text is stored without redaction.
pub const REDACTION_OFF: &str = "off";

impl Privacy {
    /// Compiles the settings; fails on the first unusable pattern, naming it.
    pub fn new(settings: &PrivacySettings) -> Result<Privacy, PrivacyError> {
        let redactor = if settings.redact { Some(Redactor::with_extra(&settings.patterns)?) } else { None };
        Ok(Privacy { redactor, exclusions: Exclusions::new(&settings.exclude, &settings.exclude_agents)? })
    }

    /// Redaction off, nothing excluded.
    pub fn off() -> Privacy {
        Privacy { redactor: None, exclusions: Exclusions::none() }
    }

    /// The redactor, unless redaction is off.
    pub fn redactor(&self) -> Option<&Redactor> {
        self.redactor.as_ref()
    }

    /// The exclusions.
    pub fn exclusions(&self) -> &Exclusions {
        &self.exclusions
    }

    /// What the store records its text as redacted with from this run on:
    /// the redactor's fingerprint, or [`REDACTION_OFF`].
    pub fn redaction_mark(&self) -> &str {
        self.redactor.as_ref().map_or(REDACTION_OFF, |r| r.fingerprint())
    }

    /// Whether the settings exclude a conversation of `agent` read from
    /// `path` in `workspace`.
    pub fn excludes(&self, agent: &str, path: &str, workspace: Option<&str>) -> bool {
        self.exclusions.agent(agent)
            || self.exclusions.path(std::path::Path::new(path))
            || workspace.is_some_and(|w| self.exclusions.workspace(w))
    }
}
