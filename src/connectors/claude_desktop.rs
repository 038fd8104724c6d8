//! Claude Desktop's records of the Claude Code sessions it runs locally:
//! `Claude/claude-code-sessions/` (the Code tab) and
//! `Claude/local-agent-mode-sessions/` (Cowork) in the app's data folder,
//! one `<account>/<org>/local_<uuid>.json` per session, rewritten as the
//! session goes on. `local_<uuid>/` folders beside them hold uploads, and
//! `skills-plugin/` holds skills: neither is walked.
//!
//! A record has no message bodies: `sessionId` (`local_<uuid>`),
//! `cliSessionId` (the Claude Code session whose transcript is in
//! `~/.claude/projects`), `title`, `cwd`, `model`, `createdAt` and
//! `lastActivityAt` (epoch ms). Each becomes a conversation of one system
//! message naming them, under the Claude Code session id: searching the
//! title finds the session, and it stays findable after Claude Code culled
//! its transcript (after `cleanupPeriodDays`, 30 by default).

use std::path::Path;

use super::content::str_field;
use super::{AgentEnv, Connector, ParseEnd, ParseError, ParseRequest, ParseSink, Platform, Root, SourceLayout};
use crate::model::{Agent, ConversationHeader, Role};
use crate::time;

/// Reads Claude Desktop's local session records.
pub struct ClaudeDesktop;

impl Connector for ClaudeDesktop {
    fn agent(&self) -> Agent {
        Agent::ClaudeDesktop
    }

    fn roots(&self, env: &AgentEnv) -> Vec<Root> {
        let (config, origin) = env.app_config_dir();
        // No official Linux app: unofficial builds use the same folder under
        // ~/.config, so it is looked for there too.
        let origin = if env.platform == Platform::Linux { "default (unofficial Linux builds)" } else { origin };
        let app = config.join("Claude");
        vec![
            Root { path: app.join("claude-code-sessions"), origin },
            Root { path: app.join("local-agent-mode-sessions"), origin },
        ]
    }

    fn is_source(&self, _root: &Path, path: &Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        name.starts_with("local_") && name.ends_with(".json")
    }

    fn layout(&self, _path: &Path) -> SourceLayout {
        SourceLayout::WholeFile
    }

    fn walk_depth(&self) -> usize {
        4
    }

    fn descend(&self, dir: &Path) -> bool {
        let name = dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        !name.starts_with("local_") && name != "skills-plugin"
    }

    fn parse(&self, req: &ParseRequest<'_>, sink: &mut dyn ParseSink) -> Result<ParseEnd, ParseError> {
        let record = super::document::read_json(req.path)?;
        if !record.is_object() {
            return Err(ParseError::Format { path: req.path.into(), message: "record is not a JSON object".into() });
        }
        let stem = req.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let local_id = str_field(&record, "sessionId").map_or(stem, str::to_string);
        let cli_id = str_field(&record, "cliSessionId");
        let title = str_field(&record, "title").map(str::to_string);
        let workspace =
            ["cwd", "worktreePath", "originCwd"].iter().find_map(|k| str_field(&record, k)).map(str::to_string);
        let model = str_field(&record, "model");
        let at = ["lastActivityAt", "createdAt"].iter().find_map(|k| record.get(*k).and_then(time::parse_value));
        let lines: Vec<String> = [
            Some(format!("Claude Desktop session: {}", title.as_deref().unwrap_or("(untitled)"))),
            workspace.as_ref().map(|w| format!("workspace: {w}")),
            model.map(|m| format!("model: {m}")),
            cli_id.map(|c| format!("Claude Code session: {c}")),
            Some(format!("Claude Desktop id: {local_id}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let header = ConversationHeader {
            external_id: cli_id.map_or(local_id.clone(), str::to_string),
            title_explicit: title.is_some(),
            title,
            workspace,
        };
        let message = super::document::message(Role::System, None, at, lines.join("\n"));
        super::document::emit_conversation(sink, header, vec![message]);
        Ok(super::document::whole_file_end(req.path))
    }
}
