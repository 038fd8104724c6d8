//! Colours and emphasis. Without colour (`NO_COLOR`, `--color never`) the UI
//! is monochrome: emphasis is bold, underline and reverse video only, so
//! nothing depends on colour. The CLI decides which, as for every command.

use ratatui::style::{Color, Modifier, Style};

use crate::model::Role;

/// How the UI is styled: with colour, or monochrome emphasis only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Colours may be used; false means bold, underline and reverse video only.
    pub color: bool,
}

impl Theme {
    /// The monochrome theme.
    pub fn mono() -> Theme {
        Theme { color: false }
    }

    /// The colour theme.
    pub fn colored() -> Theme {
        Theme { color: true }
    }

    fn fg(self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    /// Each agent keeps one colour (the same as `cass search` output).
    pub fn agent(self, agent: &str) -> Style {
        if !self.color {
            return Style::new().add_modifier(Modifier::BOLD);
        }
        let c = match agent {
            "claude_code" => Color::Indexed(173),
            "codex" => Color::Indexed(75),
            "gemini" => Color::Indexed(141),
            _ => Color::Cyan,
        };
        Style::new().fg(c)
    }

    /// Message headers: each role is told apart by colour, or by emphasis.
    pub fn role(self, role: Role) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        match (self.color, role) {
            (true, Role::User) => bold.fg(Color::LightCyan),
            (true, Role::Assistant) => bold.fg(Color::LightGreen),
            (true, Role::System) => bold.fg(Color::Yellow),
            (true, Role::Tool) => bold.fg(Color::Magenta),
            (false, Role::User) => bold.add_modifier(Modifier::UNDERLINED),
            (false, Role::Assistant) => bold,
            (false, Role::System | Role::Tool) => Style::new().add_modifier(Modifier::ITALIC),
        }
    }

    /// Secondary text: metadata, hints, markers.
    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Plain emphasis, the same in both themes.
    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Matched words in snippets.
    pub fn matched(self) -> Style {
        if self.color {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }

    /// The selected result or detail line.
    pub fn selected(self) -> Style {
        if self.color { Style::new().bg(Color::Indexed(237)) } else { Style::new().add_modifier(Modifier::REVERSED) }
    }

    /// A filter chip; `active` when it narrows the search.
    pub fn chip(self, active: bool) -> Style {
        match (self.color, active) {
            (true, true) => Style::new().fg(Color::Black).bg(Color::Yellow),
            (true, false) => Style::new().fg(Color::Gray).bg(Color::Indexed(236)),
            (false, true) => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            (false, false) => Style::new().add_modifier(Modifier::REVERSED),
        }
    }

    /// A pane's border; the focused pane's stands out.
    pub fn border(self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().fg(Color::LightBlue),
            (_, true) => Style::new().add_modifier(Modifier::BOLD),
            (_, false) => self.dim(),
        }
    }

    /// Error messages.
    pub fn error(self) -> Style {
        self.fg(Color::LightRed).add_modifier(Modifier::BOLD)
    }

    /// Collapsed tool calls and outputs.
    pub fn tool(self) -> Style {
        self.fg(Color::Magenta)
    }

    /// The usage view's bars.
    pub fn bar(self) -> Style {
        self.fg(Color::LightGreen)
    }

    /// Code without a known language.
    pub fn code(self) -> Style {
        self.fg(Color::Indexed(252))
    }
}
