//! Errors as the user sees them: one line a person can act on, or a JSON
//! object on stderr in robot mode, and a documented exit code. The
//! classification (kinds, codes, hints) is the library's robot contract,
//! shared with the MCP server; printing is the CLI's.

pub use crate::robot::{RobotError as CliError, exit};

/// Printing an error on stderr.
pub trait Print {
    /// One JSON object (`json`), else `cass: message` and `hint: …`.
    fn print(&self, json: bool);
}

impl Print for CliError {
    fn print(&self, json: bool) {
        if json {
            eprintln!("{}", self.to_json());
        } else {
            eprintln!("cass: {}", self.message);
            if let Some(h) = &self.hint {
                eprintln!("hint: {h}");
            }
        }
    }
}
