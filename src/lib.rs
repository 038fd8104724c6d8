//! cass: a local search engine for coding-agent session histories.
//!
//! Connectors read each agent's files into normalized [`model`] types, the
//! [`store`] keeps them in SQLite (the single source of truth), and derived
//! indexes (lexical, semantic) are rebuilt from the store on demand.
//!
//! The library's front door is the [`Cass`] handle, opened on a data dir
//! with explicit [`Settings`]. It hands out the roles, as tantivy has
//! `Index` / `IndexWriter` / `Searcher`:
//! - [`IndexWriter`]: one at a time (behind `cass.lock`); runs an index
//!   pass, a tier backfill or the watch loop, with progress callbacks;
//! - [`Searcher`]: takes a [`search::SearchRequest`], returns hydrated hits;
//! - [`Reader`]: conversations and messages by id;
//!
//! and answers status and health as queries. The CLI, the TUI and the MCP
//! server are thin front ends over it.
//!
//! ```no_run
//! use cass::{Cass, Settings, config::DataDir, connectors::AgentEnv};
//!
//! let cass = Cass::open(Settings::new(DataDir::at("/tmp/cass-data"), AgentEnv::with_home("/home/me")));
//! let writer = cass.writer("index").unwrap();
//! writer.index(&Default::default(), &cass::indexer::NoProgress).unwrap();
//! drop(writer);
//! let req = cass.request("connection refused", Default::default(), 10, 0).unwrap();
//! let hits = cass.searcher().unwrap().search(&req).unwrap();
//! println!("{} hits", hits.total);
//! ```

#![warn(missing_docs)]

pub mod checksum;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod embed;
pub mod export;
pub mod faults;
pub mod filters;
pub mod fuzzing;
pub mod guard;
mod handle;
pub mod indexer;
pub mod lexical;
pub mod lock;
pub mod mcp;
pub mod model;
pub mod models;
pub mod privacy;
mod reader;
pub mod redact;
pub mod remote;
pub mod robot;
pub mod search;
pub mod settings;
pub mod status;
pub mod store;
pub mod time;
pub mod tui;
pub mod usage;
pub mod vector;
pub mod verify;
pub mod words;
mod writer;

pub use handle::{Cass, StateMark};
pub use reader::{ReadError, Reader, SessionFilter};
pub use search::Searcher;
pub use settings::Settings;
pub use writer::{BackfillRun, Cycle, IndexPass, IndexWriter, WriteError};
