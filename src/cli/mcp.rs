//! `cass mcp`: the MCP server on stdio (see `crate::mcp`).

use super::{CliError, Context, exit};

/// How to add cass to the agents that speak MCP (shown by `cass mcp --help`).
pub const SETUP: &str = "\
Add it to an agent (cass must be on PATH; add --data-dir DIR after `mcp` for another index):

  Claude Code:  claude mcp add cass -- cass mcp

  Codex (~/.codex/config.toml):
    [mcp_servers.cass]
    command = \"cass\"
    args = [\"mcp\"]

  Cursor (~/.cursor/mcp.json, or .cursor/mcp.json in a project):
    { \"mcpServers\": { \"cass\": { \"command\": \"cass\", \"args\": [\"mcp\"] } } }

Tools: search, get_conversation, expand, list_sessions, status (docs/ROBOT.md).
The server never writes; keep `cass index --watch` running so answers stay current.";

pub fn run(cx: &Context) -> Result<i32, CliError> {
    crate::mcp::serve_stdio(cx.cass()?).map_err(|e| CliError::new("mcp", exit::USAGE, e.to_string()))?;
    Ok(exit::OK)
}
