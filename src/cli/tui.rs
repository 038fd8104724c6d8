//! `cass tui`, and what `cass` alone runs on a terminal.

use std::io::IsTerminal;

use super::search::usage;
use super::{CliError, Context, exit};

/// True when both stdin and stdout are terminals: only then can the UI run.
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub fn run(cx: &Context) -> Result<i32, CliError> {
    if !on_terminal() {
        return Err(usage("the terminal UI needs a terminal on stdin and stdout")
            .hint("use `cass search QUERY` (or `--json`) in scripts and pipes"));
    }
    let cass = cx.cass()?;
    // `--color`/`CASS_COLOR` as for every command; `auto` yields to
    // `NO_COLOR` (the UI only runs on a terminal).
    let theme = crate::tui::theme::Theme { color: super::style::color_allowed(cx.global.color) };
    crate::tui::run(cass, theme, &cx.env.editor()).map_err(|e| CliError::new("tui", exit::USAGE, e.to_string()))?;
    Ok(exit::OK)
}
