//! The tables and views a session knows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion_common::DFSchemaRef;
use datafusion_expr::{Expr, LogicalPlan, TableSource};

use crate::tvf::TvfCall;

/// How a table's event-time watermark is computed.
#[derive(Clone, Debug)]
pub struct WatermarkDef {
    /// The rowtime column (index into the table's columns).
    pub column: usize,
    /// The watermark expression over the table's columns.
    pub expr: Expr,
    /// The SQL text of the expression, for `DESCRIBE`.
    pub text: String,
}

/// A table created with `CREATE TABLE`.
#[derive(Clone, Debug)]
pub struct TableDef {
    /// Its name.
    pub name: String,
    /// The columns the connector reads or writes.
    pub physical: SchemaRef,
    /// All columns (physical and computed), in declaration order.
    pub schema: SchemaRef,
    /// The DataFusion schema of the physical columns (computed columns are
    /// expressions over it).
    pub physical_df: DFSchemaRef,
    /// The DataFusion schema of all columns (the watermark is an expression over it).
    pub full_df: DFSchemaRef,
    /// For each column: `None` if physical (with its index among the physical
    /// columns in `physical_index`), or the expression that computes it.
    pub computed: Vec<Option<Expr>>,
    /// The watermark, if the table has one.
    pub watermark: Option<WatermarkDef>,
    /// The processing-time column (`AS PROCTIME()`), if any.
    pub proctime: Option<usize>,
    /// `PRIMARY KEY` columns.
    pub primary_key: Vec<String>,
    /// Connector options (`WITH (...)`).
    pub options: BTreeMap<String, String>,
    /// `METADATA` columns: column name → the connector's metadata key.
    pub metadata: BTreeMap<String, String>,
    /// The `METADATA ... VIRTUAL` columns: read, never written.
    pub virtual_metadata: BTreeSet<String>,
    /// The computed columns' SQL text, for `DESCRIBE`.
    pub computed_text: Vec<Option<String>>,
}

impl TableDef {
    /// Whether the table has computed columns.
    pub fn has_computed(&self) -> bool {
        self.computed.iter().any(Option::is_some)
    }

    /// The columns an `INSERT` writes: the physical columns but the `VIRTUAL`
    /// metadata columns.
    pub fn sink_schema(&self) -> SchemaRef {
        if self.virtual_metadata.is_empty() {
            return self.physical.clone();
        }
        let fields: Vec<_> = self
            .physical
            .fields()
            .iter()
            .filter(|f| !self.virtual_metadata.contains(f.name()))
            .cloned()
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The connector option `key`, or an error naming the table.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

/// A view created with `CREATE VIEW`.
#[derive(Clone, Debug)]
pub struct ViewDef {
    /// Its name.
    pub name: String,
    /// Its planned query.
    pub plan: LogicalPlan,
    /// Its query text.
    pub query: String,
}

/// The tables and views of a session, by name (case-sensitive, as Flink).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Tables.
    pub tables: BTreeMap<String, Arc<TableDef>>,
    /// Views.
    pub views: BTreeMap<String, Arc<ViewDef>>,
}

impl Catalog {
    /// Whether a table or view of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }
}

/// The planner's view of a connector table.
#[derive(Debug)]
pub struct ConnectorSource {
    /// The table.
    pub table: Arc<TableDef>,
}

impl TableSource for ConnectorSource {
    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }
}

/// A table read with `FOR SYSTEM_TIME AS OF` (the right side of a lookup join).
#[derive(Debug)]
pub struct LookupSource {
    /// The table.
    pub table: Arc<TableDef>,
    /// The clause.
    pub call: crate::temporal::LookupCall,
}

impl TableSource for LookupSource {
    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }
}

/// The planner's view of a view: its plan.
#[derive(Debug)]
pub struct ViewSource {
    /// The view.
    pub view: Arc<ViewDef>,
    /// Its schema.
    pub schema: SchemaRef,
}

impl TableSource for ViewSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// The physical columns of a table being created (its computed columns are
/// planned over them).
#[derive(Debug)]
pub struct PhysicalSource {
    /// The physical columns.
    pub schema: SchemaRef,
}

impl TableSource for PhysicalSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// A window TVF over a table or view: its columns plus the window columns.
#[derive(Debug)]
pub struct WindowTvfSource {
    /// The call.
    pub call: TvfCall,
    /// The input, planned (a scan of the table or view).
    pub input: LogicalPlan,
    /// The index of the time column in the input.
    pub time_column: usize,
    /// Input columns, then `window_start`, `window_end`, `window_time`.
    pub schema: SchemaRef,
}

impl WindowTvfSource {
    /// The schema of a window TVF over `input`, whose time column has `time_type`.
    pub fn output_schema(input: &Schema, time_type: &DataType) -> SchemaRef {
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        fields.push(Field::new("window_start", ts.clone(), false));
        fields.push(Field::new("window_end", ts, false));
        fields.push(Field::new("window_time", time_type.clone(), false));
        Arc::new(Schema::new(fields))
    }
}

impl TableSource for WindowTvfSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
