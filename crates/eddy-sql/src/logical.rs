//! From SQL text to a DataFusion logical plan: parsing, name resolution against
//! the session's catalog, and type coercion.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion_common::config::ConfigOptions;
use datafusion_common::{plan_err, DFSchema, Result, TableReference};
use datafusion_expr::planner::{ContextProvider, ExprPlanner};
use datafusion_expr::{
    AggregateUDF, Expr, HigherOrderUDF, LogicalPlan, LogicalPlanBuilder, ScalarUDF, TableSource,
    WindowUDF,
};
use datafusion_optimizer::analyzer::Analyzer;
use datafusion_sql::planner::{NullOrdering, ParserOptions, PlannerContext, SqlToRel};
use datafusion_sql::sqlparser::ast::{Expr as SqlExpr, Statement};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::parser::Parser;

use crate::catalog::{
    Catalog, ConnectorSource, PhysicalSource, ViewDef, ViewSource, WindowTvfSource,
};
use crate::error::{SqlError, SqlResult};
use crate::functions::registry;
use crate::tvf::{self, TvfCall};

/// The name under which a table's physical columns are planned.
pub const PHYSICAL: &str = "__eddy_physical";

/// Resolves names for DataFusion's SQL planner.
pub struct Planner<'a> {
    catalog: &'a Catalog,
    options: ConfigOptions,
    planners: Vec<Arc<dyn ExprPlanner>>,
    tvfs: Vec<TvfCall>,
    lookups: Vec<crate::temporal::LookupCall>,
    physical: Option<SchemaRef>,
    /// The subqueries group windows read, planned, by their hoisted names.
    subqueries: std::collections::HashMap<String, Arc<ViewDef>>,
}

fn parser_options() -> ParserOptions {
    ParserOptions {
        parse_float_as_decimal: true,
        enable_ident_normalization: false,
        support_varchar_with_length: true,
        enable_options_value_normalization: false,
        collect_spans: true,
        map_string_types_to_utf8view: false,
        // Flink sorts NULL as the smallest value: first ascending, last
        // descending (Calcite's NullCollation.LOW).
        default_null_ordering: NullOrdering::NullsMin,
    }
}

impl<'a> Planner<'a> {
    /// A planner over `catalog`.
    pub fn new(catalog: &'a Catalog) -> Self {
        let mut options = ConfigOptions::default();
        options.sql_parser.enable_ident_normalization = false;
        options.sql_parser.parse_float_as_decimal = true;
        options.sql_parser.map_string_types_to_utf8view = false;
        options.sql_parser.default_null_ordering = "nulls_min".into();
        options.execution.time_zone = Some("+00:00".into());
        let planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(crate::functions::maps::MapPlanner),
            Arc::new(datafusion_functions::core::planner::CoreFunctionPlanner::default()),
            Arc::new(datafusion_functions_nested::planner::NestedFunctionPlanner),
            Arc::new(datafusion_functions_nested::planner::FieldAccessPlanner),
            Arc::new(datafusion_functions::datetime::planner::DatetimeFunctionPlanner),
            Arc::new(datafusion_functions::unicode::planner::UnicodeFunctionPlanner),
            Arc::new(datafusion_functions_aggregate::planner::AggregateFunctionPlanner),
            Arc::new(datafusion_functions_window::planner::WindowFunctionPlanner),
        ];
        Planner {
            catalog,
            options,
            planners,
            tvfs: Vec::new(),
            lookups: Vec::new(),
            physical: None,
            subqueries: Default::default(),
        }
    }

    /// Resolves `__eddy_physical` to these columns (for planning computed columns).
    pub fn with_physical(mut self, schema: SchemaRef) -> Self {
        self.physical = Some(schema);
        self
    }

    /// Plans a query (`SELECT`, `WITH`, `VALUES`), with window TVFs.
    pub fn plan_query(&mut self, sql: &str) -> SqlResult<LogicalPlan> {
        let text = crate::map_syntax::rewrite(&crate::json_syntax::rewrite(sql)?)?;
        let (text, calls) = tvf::extract(&text, self.tvfs.len())?;
        let inputs: Vec<(String, String, u64, u64)> = calls
            .iter()
            .filter_map(|c| Some((c.table.clone(), c.subquery.clone()?, c.line, c.column)))
            .collect();
        self.tvfs.extend(calls);
        // The subqueries window functions read, planned as views.
        for (name, query, line, column) in inputs {
            let plan = self.plan_query(&query).map_err(|e| {
                SqlError::at(
                    format!("in the subquery read by the window function: {}", e.message),
                    line,
                    column,
                )
            })?;
            let view = ViewDef {
                name: name.clone(),
                plan,
                query,
            };
            self.subqueries.insert(name, Arc::new(view));
        }
        let (text, lookups) = crate::temporal::extract(&text, self.lookups.len())?;
        self.lookups.extend(lookups);
        let dialect = GenericDialect {};
        let mut statements = Parser::parse_sql(&dialect, &text)?;
        if statements.len() != 1 {
            return Err(SqlError::new("expected exactly one query"));
        }
        let mut statement = statements.remove(0);
        crate::precedence::repair(&mut statement);
        crate::time_units::rewrite(&mut statement);
        crate::json_syntax::is_json_calls(&mut statement);
        crate::flink_types::rewrite(&mut statement);
        if let Statement::Query(query) = &mut statement {
            crate::naming::name_columns(query);
            let mut hoisted = Vec::new();
            crate::legacy_window::rewrite(query, &mut self.tvfs, &mut hoisted)?;
            // The subqueries group windows read, planned as views.
            for (name, query) in hoisted {
                let text = query.to_string();
                let plan = SqlToRel::new_with_options(&*self, parser_options())
                    .sql_statement_to_plan(Statement::Query(Box::new(query)))
                    .map_err(|e| locate_name(SqlError::from(e), sql))?;
                let plan = self.analyze(plan).map_err(|e| locate_name(e, sql))?;
                let view = ViewDef {
                    name: name.clone(),
                    plan,
                    query: text,
                };
                self.subqueries.insert(name, Arc::new(view));
            }
        }
        if !matches!(statement, Statement::Query(_)) {
            return Err(SqlError::new(format!(
                "expected a query, found: {}",
                first_words(&text)
            )));
        }
        let plan = SqlToRel::new_with_options(&*self, parser_options())
            .sql_statement_to_plan(statement)
            .map_err(|e| locate_name(SqlError::from(e), sql))?;
        let plan = self.analyze(plan).map_err(|e| locate_name(e, sql))?;
        self.decorrelate(plan)
    }

    /// `[NOT] EXISTS` and `[NOT] IN` subqueries become semi and anti joins,
    /// scalar subqueries joins with their aggregate (DataFusion's rewrites).
    pub fn decorrelate(&self, plan: LogicalPlan) -> SqlResult<LogicalPlan> {
        use datafusion_optimizer::decorrelate_predicate_subquery::DecorrelatePredicateSubquery;
        use datafusion_optimizer::scalar_subquery_to_join::ScalarSubqueryToJoin;
        use datafusion_optimizer::{Optimizer, OptimizerContext};
        let optimizer = Optimizer::with_rules(vec![
            Arc::new(DecorrelatePredicateSubquery::new()),
            Arc::new(ScalarSubqueryToJoin::new()),
        ]);
        // Uncorrelated scalar subqueries become joins too (a stream has no
        // physical plan to evaluate them once).
        let mut options = self.options.clone();
        options
            .optimizer
            .enable_physical_uncorrelated_scalar_subquery = false;
        let context = OptimizerContext::new_with_config_options(Arc::new(options));
        Ok(optimizer.optimize(plan, &context, |_, _| {})?)
    }

    /// Type coercion and the other analyzer rules.
    pub fn analyze(&self, plan: LogicalPlan) -> SqlResult<LogicalPlan> {
        Ok(Analyzer::new().execute_and_check(plan, &self.options, |_, _| {})?)
    }

    /// Plans an expression over `schema` (computed columns, watermarks).
    pub fn plan_expr(&self, expr: SqlExpr, schema: &DFSchema) -> SqlResult<Expr> {
        Ok(
            SqlToRel::new_with_options(self, parser_options()).sql_to_expr(
                expr,
                schema,
                &mut PlannerContext::new(),
            )?,
        )
    }

    /// A scan of a table or view by name.
    pub fn scan(&self, name: &str) -> SqlResult<LogicalPlan> {
        let source = self.get_table_source(TableReference::bare(name))?;
        Ok(LogicalPlanBuilder::scan(name, source, None)?.build()?)
    }

    fn tvf_source(&self, index: usize) -> Result<Arc<dyn TableSource>> {
        let Some(call) = self.tvfs.get(index) else {
            return plan_err!("window function {index} is unknown");
        };
        let input = self
            .scan(&call.table)
            .map_err(|e| datafusion_common::DataFusionError::Plan(e.message))?;
        let schema = input.schema().as_arrow().clone();
        let Some(time_column) = schema
            .fields()
            .iter()
            .position(|f| f.name() == &call.time_column)
        else {
            return plan_err!(
                "column '{}' in DESCRIPTOR of {} is not a column of {}",
                call.time_column,
                call.kind.name(),
                call.input_name()
            );
        };
        let time_type = schema.field(time_column).data_type().clone();
        if !matches!(time_type, DataType::Timestamp(_, _)) {
            return plan_err!(
                "the time column '{}' of {} must be a time attribute, but it is {}",
                call.time_column,
                call.kind.name(),
                crate::types::sql_name(&time_type)
            );
        }
        for p in &call.partition_by {
            if schema.fields().iter().all(|f| f.name() != p) {
                return plan_err!(
                    "PARTITION BY column '{p}' is not a column of {}",
                    call.input_name()
                );
            }
        }
        let output = WindowTvfSource::output_schema(&schema, &time_type);
        Ok(Arc::new(WindowTvfSource {
            call: call.clone(),
            input,
            time_column,
            schema: output,
        }))
    }
}

/// Gives an error about a named table, column or function the position of that
/// name in the query, when the planner did not.
fn locate_name(mut e: SqlError, sql: &str) -> SqlError {
    let name = ["Object '", "No field named ", "Invalid function '"]
        .iter()
        .find_map(|prefix| {
            let start = e.message.find(prefix)? + prefix.len();
            let rest = &e.message[start..];
            let end = rest
                .find(|c: char| c == '\'' || c.is_whitespace())
                .unwrap_or(rest.len());
            Some(rest[..end].trim_end_matches('.').to_string())
        });
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return e;
    };
    let name = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    let Ok(tokens) = crate::script::tokenize(sql) else {
        return e;
    };
    use datafusion_sql::sqlparser::tokenizer::Token;
    let is_name = |t: &Token| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(&name));
    if let Some(p) = e.position {
        // The planner's position stands when it is at the name (or at its
        // qualifier); a position inside a rewritten part of the query (a
        // window TVF's placeholder) does not.
        let significant: Vec<&Token> = tokens
            .iter()
            .skip_while(|t| (t.span.start.line, t.span.start.column) < (p.line, p.column))
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .take(3)
            .collect();
        let at_name = significant.first().is_some_and(|t| is_name(t))
            || (significant.get(1) == Some(&&Token::Period)
                && significant.get(2).is_some_and(|t| is_name(t)));
        if at_name {
            return e;
        }
    }
    if let Some(t) = tokens.iter().find(|t| is_name(&t.token)) {
        e.position = Some(crate::error::Position {
            line: t.span.start.line,
            column: t.span.start.column,
        });
    }
    e
}

fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

impl ContextProvider for Planner<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let table = name.table();
        if let Some(index) = table.strip_prefix(tvf::PLACEHOLDER) {
            let index: usize = index.parse().unwrap_or(usize::MAX);
            return self.tvf_source(index);
        }
        if let Some(index) = table.strip_prefix(crate::temporal::PLACEHOLDER) {
            let Some(call) = index.parse().ok().and_then(|i: usize| self.lookups.get(i)) else {
                return plan_err!("lookup table {index} is unknown");
            };
            let Some(def) = self.catalog.tables.get(&call.table) else {
                return plan_err!(
                    "FOR SYSTEM_TIME AS OF reads a table, and '{}' is not one",
                    call.table
                );
            };
            return Ok(Arc::new(crate::catalog::LookupSource {
                table: def.clone(),
                call: call.clone(),
            }));
        }
        if table == PHYSICAL {
            if let Some(schema) = &self.physical {
                return Ok(Arc::new(PhysicalSource {
                    schema: schema.clone(),
                }));
            }
        }
        if let Some(def) = self.catalog.tables.get(table) {
            return Ok(Arc::new(ConnectorSource { table: def.clone() }));
        }
        if let Some(view) = self
            .subqueries
            .get(table)
            .or_else(|| self.catalog.views.get(table))
        {
            return Ok(Arc::new(ViewSource {
                view: view.clone(),
                schema: Arc::new(view.plan.schema().as_arrow().clone()),
            }));
        }
        plan_err!("Object '{table}' not found")
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &self.planners
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        registry().scalars.get(&name.to_lowercase()).cloned()
    }

    fn get_higher_order_meta(&self, _: &str) -> Option<Arc<HigherOrderUDF>> {
        None
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        registry().aggregates.get(&name.to_lowercase()).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        registry().windows.get(&name.to_lowercase()).cloned()
    }

    fn get_variable_type(&self, _: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        &self.options
    }

    fn udf_names(&self) -> Vec<String> {
        registry().scalars.keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn udaf_names(&self) -> Vec<String> {
        registry().aggregates.keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        registry().windows.keys().cloned().collect()
    }
}
