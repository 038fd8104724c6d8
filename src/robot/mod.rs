//! The robot contract shared by every machine-facing front end (`--json`
//! on the CLI, the MCP server): error kinds and exit codes, and trimming
//! output to the fields, text lengths and token budget an agent asks for.
//! docs/ROBOT.md documents both.

mod budget;
mod error;
mod shape;

pub use budget::{Fit, fit};
pub use error::{RobotError, exit};
pub use shape::{CUT_MARKER, Format, ITEM_KEYS, Shape, cut, drop_empty, estimate_tokens, shape_document};
