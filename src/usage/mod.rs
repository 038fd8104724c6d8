//! Usage reports: tokens and cost by day, week, month, model, project,
//! agent and session, from the sums the store keeps (see `store::usage`)
//! and a price table (see [`prices`]).

pub mod format;
pub mod prices;
mod report;
mod zone;

pub use prices::{PRICES_AS_OF, Price, PriceTable};
pub use report::{Grouping, ModelLine, Report, ReportRequest, ReportRow, build};
pub use zone::Zone;
