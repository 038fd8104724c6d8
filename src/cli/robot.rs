//! Robot output for every `--json` command: the flags that trim it
//! (`--fields`, `--max-content-length`, `--format`) and the one function
//! that prints a document. The shaping itself is the library's
//! (`crate::robot`), shared with the MCP server.

use clap::Args;
use serde_json::Value;

use super::CliError;
pub use crate::robot::shape_document;
use crate::robot::{Format, ITEM_KEYS, Shape};

/// The robot flags every command that answers a question takes.
#[derive(Debug, Args, Clone, Default)]
pub struct RobotArgs {
    /// Robot output: JSON on stdout (docs/ROBOT.md).
    #[arg(long)]
    pub json: bool,
    /// Robot layout (implies --json): json (pretty), jsonl (one hit or
    /// message per line, then a summary line), compact (one line).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Keep only these fields of each hit or message (of the whole document
    /// for other commands); dotted paths reach nested keys: snippet.text.
    #[arg(long, value_name = "A,B.C")]
    pub fields: Option<String>,
    /// Cut snippets and message texts to N characters, the last being "…".
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_content_length: Option<u64>,
}

impl RobotArgs {
    /// True when output is for robots.
    pub fn on(&self) -> bool {
        self.json || self.format.is_some()
    }

    /// The layout asked for.
    pub fn layout(&self) -> Format {
        self.format.unwrap_or_default()
    }

    /// The validated shape; a bad `--fields` is a usage error.
    pub fn shape(&self) -> Result<Shape, CliError> {
        let fields = self.fields.as_deref().map(Shape::parse_fields).transpose().map_err(CliError::usage)?;
        Ok(Shape { fields, max_content_length: self.max_content_length.map(|n| n as usize), drop_empty: false })
    }
}

/// The text of a shaped document in `format`, ending with a newline.
pub fn render(value: Value, format: Format) -> String {
    let mut out = match format {
        Format::Json => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Format::Compact => value.to_string(),
        Format::Jsonl => {
            let Value::Object(mut map) = value else { return format!("{value}\n") };
            let mut lines = Vec::new();
            for key in ITEM_KEYS {
                if let Some(Value::Array(items)) = map.shift_remove(key) {
                    map.insert(format!("{key}_returned"), Value::from(items.len()));
                    lines.extend(items.iter().map(Value::to_string));
                    break;
                }
            }
            lines.push(Value::Object(map).to_string());
            lines.join("\n")
        }
    };
    out.push('\n');
    out
}

/// Serializes, shapes and prints one robot document on stdout.
pub fn print<T: serde::Serialize>(value: &T, robot: &RobotArgs) -> Result<(), CliError> {
    let value =
        serde_json::to_value(value).map_err(|e| CliError::new("internal", super::exit::USAGE, e.to_string()))?;
    super::write_stdout(&render(shape_document(value, &robot.shape()?), robot.layout()))
}
