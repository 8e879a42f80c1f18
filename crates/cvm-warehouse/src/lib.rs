//! The customer database (客户数据库): operator exports in, a Parquet warehouse out.
//!
//! `import` reads each table's CSV (UTF-8 or GBK) or Parquet export, checks every row
//! against [`cvm_domain::schema`], sets rejected rows aside with file, line, column, value
//! and reason, and writes accepted rows to the warehouse:
//!
//! ```text
//! W/<table>/snapshot.parquet               snapshot tables (subscribers, plans, ...)
//! W/<table>/month=YYYY-MM/data.parquet     month-partitioned tables (usage, events, sales)
//! W/_imports/<import-id>/summary.json      what each import read, accepted and rejected
//! W/_imports/<import-id>/rejects.csv       every rejected row with its reason
//! ```
//!
//! Every file is written to a temporary name and renamed into place once complete, so a
//! reader or a crash never sees half a file.

pub mod arrow_schema;
