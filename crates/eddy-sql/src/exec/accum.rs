//! Aggregate functions with Flink's semantics: accumulate, retract, result.
//!
//! Accumulators are plain serializable values kept in eddy's keyed state, one
//! list per group (and window). Inputs that retract (`-U`, `-D`) need the
//! retractable forms: MIN/MAX keep a multiset of values, DISTINCT a count per
//! value, as Flink's `MapView`s do.

use std::collections::{BTreeMap, VecDeque};

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{SqlError, SqlResult};
use crate::exec::val::{Val, F64};
use crate::functions::AggKind;

/// One aggregate call of a query, resolved to input columns.
#[derive(Clone, Debug)]
pub struct AggSpec {
    /// The function.
    pub kind: AggKind,
    /// The argument column, `None` for `COUNT(*)`.
    pub arg: Option<usize>,
    /// The `FILTER (WHERE ...)` column (BOOLEAN), if any.
    pub filter: Option<usize>,
    /// `DISTINCT`.
    pub distinct: bool,
    /// The argument's type.
    pub input_type: Option<DataType>,
    /// The result type.
    pub output_type: DataType,
    /// Whether the input retracts (then MIN/MAX keep every value).
    pub retracting: bool,
    /// LAG's offset and default.
    pub lag: Option<LagSpec>,
    /// LISTAGG's separator (`,` when not given).
    pub separator: Option<String>,
}

/// What `LAG(x, offset, default)` returns: `x` of the row `offset` rows
/// before, or `default` when there is none.
#[derive(Clone, Debug, PartialEq)]
pub struct LagSpec {
    /// How many rows back (0 is the current row).
    pub offset: usize,
    /// The value when the partition has fewer rows before.
    pub default: Val,
}

/// The state of one aggregate call for one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Acc {
    /// Values in arrival order (LISTAGG, ARRAY_AGG, and FIRST_VALUE and
    /// LAST_VALUE over a changelog); a retraction removes the first equal one.
    List(Vec<Val>),
    /// Rows (or non-null values) counted.
    Count(i64),
    /// A running sum and the number of non-null values in it.
    Sum {
        /// The sum (`Int`, `Float` or `Dec`).
        sum: Val,
        /// Non-null values.
        n: i64,
    },
    /// The current extreme (append-only input).
    Extreme(Val),
    /// Every value with its multiplicity (retracting MIN/MAX) or the distinct
    /// values with theirs (DISTINCT).
    Values(BTreeMap<Val, i64>),
    /// FIRST_VALUE / LAST_VALUE.
    Pick(Val),
    /// LAG: the last `offset + 1` values, oldest first.
    Recent(VecDeque<Val>),
}

fn add(a: &Val, b: &Val, sign: i64) -> Val {
    match (a, b) {
        (Val::Null, b) if sign > 0 => b.clone(),
        (Val::Null, b) => negate(b),
        (Val::Int(x), Val::Int(y)) => Val::Int(x.wrapping_add(y.wrapping_mul(sign))),
        (Val::Float(x), Val::Float(y)) => Val::Float(F64(x.0 + y.0 * sign as f64)),
        (Val::Float(x), Val::Int(y)) => Val::Float(F64(x.0 + *y as f64 * sign as f64)),
        (Val::Dec(x), Val::Dec(y)) => Val::Dec(x.wrapping_add(y.wrapping_mul(sign as i128))),
        (a, _) => a.clone(),
    }
}

fn negate(v: &Val) -> Val {
    match v {
        Val::Int(x) => Val::Int(x.wrapping_neg()),
        Val::Float(x) => Val::Float(F64(-x.0)),
        Val::Dec(x) => Val::Dec(x.wrapping_neg()),
        other => other.clone(),
    }
}

impl AggSpec {
    /// `COUNT(*)` over a changelog: the rows a group holds.
    pub fn count_rows() -> AggSpec {
        AggSpec {
            kind: AggKind::Count,
            arg: None,
            filter: None,
            distinct: false,
            input_type: None,
            output_type: arrow::datatypes::DataType::Int64,
            retracting: true,
            lag: None,
            separator: None,
        }
    }

    /// A fresh accumulator.
    pub fn create(&self) -> Acc {
        if self.distinct {
            return Acc::Values(BTreeMap::new());
        }
        match self.kind {
            AggKind::Count => Acc::Count(0),
            AggKind::Sum | AggKind::Avg => Acc::Sum {
                sum: Val::Null,
                n: 0,
            },
            AggKind::Min | AggKind::Max if self.retracting => Acc::Values(BTreeMap::new()),
            AggKind::Min | AggKind::Max => Acc::Extreme(Val::Null),
            // Over a changelog, every value in arrival order, as Flink's
            // FirstValueWithRetract and LastValueWithRetract keep them.
            AggKind::FirstValue | AggKind::LastValue if self.retracting => Acc::List(Vec::new()),
            AggKind::FirstValue | AggKind::LastValue => Acc::Pick(Val::Null),
            AggKind::Lag => Acc::Recent(VecDeque::new()),
            AggKind::ListAgg | AggKind::ArrayAgg => Acc::List(Vec::new()),
            AggKind::Collect => Acc::Values(BTreeMap::new()),
        }
    }

    fn lag_offset(&self) -> usize {
        self.lag.as_ref().map_or(1, |l| l.offset)
    }

    /// Adds (`sign` 1) or retracts (`sign` -1) one value (`Val::Null` for a NULL
    /// argument; `COUNT(*)` passes `Val::Bool(true)`).
    pub fn update(&self, acc: &mut Acc, value: &Val, sign: i64) -> SqlResult<()> {
        match acc {
            Acc::Count(n) => {
                if !value.is_null() {
                    *n += sign;
                }
            }
            Acc::Sum { sum, n } => {
                if !value.is_null() {
                    *sum = add(sum, value, sign);
                    *n += sign;
                    if *n == 0 {
                        *sum = Val::Null;
                    }
                }
            }
            Acc::Extreme(current) => {
                if sign < 0 {
                    return Err(SqlError::unsupported(
                        "retracting MIN/MAX planned as append-only (a planner bug)",
                    ));
                }
                if !value.is_null() {
                    let better = current.is_null()
                        || match self.kind {
                            AggKind::Min => value < current,
                            _ => value > current,
                        };
                    if better {
                        *current = value.clone();
                    }
                }
            }
            Acc::Values(values) => {
                if !value.is_null() {
                    let count = values.entry(value.clone()).or_insert(0);
                    *count += sign;
                    if *count == 0 {
                        values.remove(value);
                    }
                }
            }
            Acc::Pick(current) => {
                if sign < 0 {
                    return Err(SqlError::unsupported(format!(
                        "{:?} over an input that updates or deletes rows",
                        self.kind
                    )));
                }
                let take = match self.kind {
                    AggKind::FirstValue => current.is_null(),
                    _ => true,
                };
                if take && !value.is_null() {
                    *current = value.clone();
                }
            }
            Acc::List(values) => {
                // ARRAY_AGG keeps NULLs (Flink's RESPECT NULLS); LISTAGG skips them.
                if value.is_null() && self.kind != AggKind::ArrayAgg {
                } else if sign > 0 {
                    values.push(value.clone());
                } else if let Some(at) = values.iter().position(|v| v == value) {
                    values.remove(at);
                }
            }
            Acc::Recent(values) => {
                if sign < 0 {
                    return Err(SqlError::unsupported(
                        "LAG over an input that updates or deletes rows",
                    ));
                }
                // A NULL is a value like any other: LAG returns it.
                values.push_back(value.clone());
                while values.len() > self.lag_offset() + 1 {
                    values.pop_front();
                }
            }
        }
        Ok(())
    }

    /// Folds `later` (the accumulator of rows after `acc`'s) into `acc`, for
    /// merging session windows.
    pub fn merge(&self, acc: &mut Acc, later: Acc) {
        match (acc, later) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Sum { sum, n }, Acc::Sum { sum: other, n: m }) => {
                if !other.is_null() {
                    *sum = add(sum, &other, 1);
                }
                *n += m;
                if *n == 0 {
                    // A partial that retracts every value: no values, no sum.
                    *sum = Val::Null;
                }
            }
            (Acc::Extreme(a), Acc::Extreme(b)) => {
                let better = !b.is_null()
                    && (a.is_null()
                        || match self.kind {
                            AggKind::Min => b < *a,
                            _ => b > *a,
                        });
                if better {
                    *a = b;
                }
            }
            (Acc::Values(a), Acc::Values(b)) => {
                for (v, n) in b {
                    let count = a.entry(v.clone()).or_insert(0);
                    *count += n;
                    if *count == 0 {
                        a.remove(&v);
                    }
                }
            }
            (Acc::Pick(a), Acc::Pick(b)) => {
                let take = match self.kind {
                    AggKind::FirstValue => a.is_null(),
                    _ => !b.is_null(),
                };
                if take {
                    *a = b;
                }
            }
            (Acc::Recent(a), Acc::Recent(b)) => {
                a.extend(b);
                while a.len() > self.lag_offset() + 1 {
                    a.pop_front();
                }
            }
            (Acc::List(a), Acc::List(b)) => a.extend(b),
            // Accumulators of one spec always have the same shape.
            _ => {}
        }
    }

    /// The result.
    pub fn result(&self, acc: &Acc) -> Val {
        match acc {
            Acc::Count(n) => Val::Int(*n),
            Acc::List(values) if self.kind == AggKind::ArrayAgg => {
                if values.is_empty() {
                    Val::Null
                } else {
                    Val::List(values.clone())
                }
            }
            Acc::List(values) if self.kind == AggKind::FirstValue => {
                values.first().cloned().unwrap_or(Val::Null)
            }
            Acc::List(values) if self.kind == AggKind::LastValue => {
                values.last().cloned().unwrap_or(Val::Null)
            }
            Acc::List(values) => self.joined(values.iter()),
            Acc::Sum { sum, n } => match self.kind {
                AggKind::Avg => self.average(sum, *n),
                _ => sum.clone(),
            },
            Acc::Extreme(v) | Acc::Pick(v) => v.clone(),
            Acc::Recent(values) => {
                let offset = self.lag_offset();
                match values.len().checked_sub(offset + 1) {
                    Some(i) => values[i].clone(),
                    None => self.lag.as_ref().map_or(Val::Null, |l| l.default.clone()),
                }
            }
            // A multiset, its entries in the order of their values (it has
            // none; Flink prints them in its hash order).
            Acc::Values(values) if self.kind == AggKind::Collect && !self.distinct => Val::Map(
                values
                    .iter()
                    .map(|(v, n)| (v.clone(), Val::Int(*n)))
                    .collect(),
            ),
            Acc::Values(values) if self.distinct => match self.kind {
                AggKind::Count => Val::Int(values.len() as i64),
                AggKind::Min => values.keys().next().cloned().unwrap_or(Val::Null),
                AggKind::Max => values.keys().next_back().cloned().unwrap_or(Val::Null),
                AggKind::Sum | AggKind::Avg => {
                    let mut sum = Val::Null;
                    for v in values.keys() {
                        sum = add(&sum, v, 1);
                    }
                    if self.kind == AggKind::Avg {
                        self.average(&sum, values.len() as i64)
                    } else {
                        sum
                    }
                }
                AggKind::FirstValue | AggKind::LastValue | AggKind::Lag => {
                    values.keys().next().cloned().unwrap_or(Val::Null)
                }
                AggKind::ListAgg => self.joined(values.keys()),
                AggKind::ArrayAgg if values.is_empty() => Val::Null,
                AggKind::ArrayAgg => Val::List(values.keys().cloned().collect()),
                AggKind::Collect => {
                    Val::Map(values.keys().map(|v| (v.clone(), Val::Int(1))).collect())
                }
            },
            Acc::Values(values) => match self.kind {
                AggKind::Min => values.keys().next().cloned().unwrap_or(Val::Null),
                _ => values.keys().next_back().cloned().unwrap_or(Val::Null),
            },
        }
    }

    /// LISTAGG's result: the values joined by the separator, NULL for none.
    fn joined<'a>(&self, values: impl Iterator<Item = &'a Val>) -> Val {
        let separator = self.separator.as_deref().unwrap_or(",");
        let mut out: Option<String> = None;
        for value in values {
            let text = match value {
                Val::Str(s) => s.clone(),
                Val::Null => continue,
                other => format!("{other:?}"),
            };
            match &mut out {
                Some(joined) => {
                    joined.push_str(separator);
                    joined.push_str(&text);
                }
                None => out = Some(text),
            }
        }
        out.map_or(Val::Null, Val::Str)
    }

    fn average(&self, sum: &Val, n: i64) -> Val {
        if n == 0 {
            return Val::Null;
        }
        match (sum, &self.output_type) {
            (Val::Int(s), _) => Val::Int(s / n),
            (Val::Float(s), _) => Val::Float(F64(s.0 / n as f64)),
            (Val::Dec(s), DataType::Decimal128(_, out_scale)) => {
                let in_scale = match &self.input_type {
                    Some(DataType::Decimal128(_, s)) => *s,
                    _ => 0,
                };
                let shift = (*out_scale as i32 - in_scale as i32).max(0) as u32;
                let scaled = s.saturating_mul(10i128.pow(shift));
                let (q, r) = (scaled / n as i128, scaled % n as i128);
                // HALF_UP, as Java's BigDecimal division in Flink.
                let q = if r.abs() * 2 >= (n as i128).abs() {
                    q + scaled.signum() * (n as i128).signum()
                } else {
                    q
                };
                Val::Dec(q)
            }
            _ => Val::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(kind: AggKind, t: DataType, retracting: bool) -> AggSpec {
        AggSpec {
            kind,
            arg: Some(0),
            filter: None,
            distinct: false,
            input_type: Some(t.clone()),
            output_type: crate::functions::aggregate_type(kind, Some(&t)).unwrap(),
            retracting,
            lag: None,
            separator: None,
        }
    }

    #[test]
    fn lag_reaches_back_or_gives_the_default() {
        let mut lag = spec(AggKind::Lag, DataType::Int64, false);
        lag.lag = Some(LagSpec {
            offset: 2,
            default: Val::Int(-1),
        });
        let mut acc = lag.create();
        let mut seen = Vec::new();
        for v in [Val::Int(1), Val::Null, Val::Int(3), Val::Int(4)] {
            lag.update(&mut acc, &v, 1).unwrap();
            seen.push(lag.result(&acc));
        }
        assert_eq!(seen, [Val::Int(-1), Val::Int(-1), Val::Int(1), Val::Null]);
        assert!(lag.update(&mut acc, &Val::Int(5), -1).is_err());
    }

    #[test]
    fn retractable_max_and_integer_avg() {
        let max = spec(AggKind::Max, DataType::Int64, true);
        let mut acc = max.create();
        for v in [3, 7, 5] {
            max.update(&mut acc, &Val::Int(v), 1).unwrap();
        }
        max.update(&mut acc, &Val::Int(7), -1).unwrap();
        assert_eq!(max.result(&acc), Val::Int(5));
        let avg = spec(AggKind::Avg, DataType::Int64, false);
        let mut acc = avg.create();
        for v in [1, 2] {
            avg.update(&mut acc, &Val::Int(v), 1).unwrap();
        }
        assert_eq!(
            avg.result(&acc),
            Val::Int(1),
            "Flink's AVG(BIGINT) truncates"
        );
    }

    #[test]
    fn decimal_avg_rounds_half_up() {
        let avg = spec(AggKind::Avg, DataType::Decimal128(10, 2), false);
        assert_eq!(avg.output_type, DataType::Decimal128(38, 6));
        let mut acc = avg.create();
        for v in [100, 100, 101] {
            avg.update(&mut acc, &Val::Dec(v), 1).unwrap();
        }
        // (1.00 + 1.00 + 1.01) / 3 = 1.003333...
        assert_eq!(avg.result(&acc), Val::Dec(1_003_333));
    }
}
