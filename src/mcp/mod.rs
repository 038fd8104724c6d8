//! `cass mcp`: a Model Context Protocol server on stdio, the third front
//! end beside the CLI and the TUI.
//!
//! Agents that speak MCP (Claude Code, Codex, Cursor, Gemini CLI, …) call
//! its tools to recall earlier work: `search`, `get_conversation`,
//! `expand`, `list_sessions` and `status`. Answers are compact JSON (no
//! whitespace, no empty fields, texts cut to a length) and carry the ids
//! the follow-up tools take. The server only reads — a searcher and a
//! reader on the data dir — so a running `cass index --watch` keeps what it
//! answers current; each call picks up what the writer committed since.
//! Failures are MCP errors whose data holds the CLI's error `kind`.

mod tools;

pub use tools::CassServer;

use crate::Cass;

/// Why the server stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The async runtime could not start.
    #[error("cannot start the MCP runtime: {0}")]
    Runtime(std::io::Error),
    /// The protocol handshake on stdio failed.
    #[error("MCP handshake failed: {0}")]
    Handshake(String),
    /// The server task ended with an error.
    #[error("MCP server stopped: {0}")]
    Stopped(String),
}

/// Serves MCP on stdin/stdout until the client closes the connection.
pub fn serve_stdio(cass: Cass) -> Result<(), McpError> {
    use rmcp::ServiceExt;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(McpError::Runtime)?;
    runtime.block_on(async move {
        let service = CassServer::new(cass)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| McpError::Handshake(e.to_string()))?;
        service.waiting().await.map_err(|e| McpError::Stopped(e.to_string()))?;
        Ok(())
    })
}
