//! cass: a local search engine for coding-agent session histories.
//!
//! Connectors read each agent's files into normalized [`model`] types, the
//! [`store`] keeps them in SQLite (the single source of truth), and derived
//! indexes (lexical, semantic) are rebuilt from the store on demand.

pub mod cli;
pub mod config;
pub mod connectors;
pub mod embed;
pub mod faults;
pub mod fuzzing;
pub mod indexer;
pub mod lexical;
pub mod lock;
pub mod model;
pub mod models;
pub mod search;
pub mod settings;
pub mod status;
pub mod store;
pub mod time;
pub mod tui;
pub mod vector;
