//! Colour for human output: on a terminal by default, never with `NO_COLOR`,
//! or as `--color` says.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Whether `choice` allows colour at all (settings resolution already
/// turned `auto` into `never` under `NO_COLOR`); the caller still checks
/// that its stream is a terminal for `auto`.
pub fn color_allowed(choice: ColorChoice) -> bool {
    choice != ColorChoice::Never
}

/// Resolved styling for one output stream.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn for_stdout(choice: ColorChoice) -> Style {
        Style { color: color_allowed(choice) && (choice == ColorChoice::Always || std::io::stdout().is_terminal()) }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }

    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn highlight(&self, s: &str) -> String {
        if self.color { self.paint("1;33", s) } else { format!("[{s}]") }
    }
    /// A bar of a chart (green on a terminal).
    pub fn highlight_bar(&self, s: &str) -> String {
        if s.is_empty() { String::new() } else { self.paint("32", s) }
    }
    /// Each agent keeps one colour across runs.
    pub fn agent(&self, agent: &str) -> String {
        let code = match agent {
            "claude_code" => "38;5;173",
            "codex" => "38;5;75",
            "gemini" => "38;5;141",
            _ => "36",
        };
        self.paint(code, agent)
    }
}
