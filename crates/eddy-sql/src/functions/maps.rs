//! Flink's maps: the value constructor `MAP[k1, v1, k2, v2, ...]` (written as
//! a call by `map_syntax`, planned here by [`MapPlanner`]) and
//! `MAP_FROM_ARRAYS(keys, values)`, with Flink's rows: in the constructor a
//! key given twice keeps its first position and its last value (Flink fills a
//! linked hash map), where DataFusion's `map` rejects repeated keys;
//! `MAP_FROM_ARRAYS` keeps the entries as given, repeated keys included, as
//! Flink's does. A NULL key is an error (an Arrow map has no NULL keys); a
//! NULL value is kept.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, MapArray, StructArray, UInt32Array};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Fields};
use arrow::row::{RowConverter, SortField};
use datafusion_common::{exec_err, plan_err, Result};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::planner::{ExprPlanner, PlannerResult};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_functions_nested::make_array::make_array;

/// A map from a key array and a value array: `MAP_FROM_ARRAYS`, or with
/// `last_wins` the constructor.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MapFromArrays {
    name: &'static str,
    last_wins: bool,
    signature: Signature,
}

/// The element type of a list argument.
fn element(list: &DataType) -> Result<&DataType> {
    match list {
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            Ok(field.data_type())
        }
        other => plan_err!(
            "MAP_FROM_ARRAYS takes two arrays, not {}",
            crate::types::sql_name(other)
        ),
    }
}

fn entries(key: &DataType, value: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("key", key.clone(), false),
        Field::new("value", value.clone(), true),
    ])
}

impl ScalarUDFImpl for MapFromArrays {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [keys, values] = arg_types else {
            return plan_err!("MAP_FROM_ARRAYS takes 2 arguments, not {}", arg_types.len());
        };
        let fields = entries(element(keys)?, element(values)?);
        Ok(DataType::Map(
            Arc::new(Field::new("entries", DataType::Struct(fields), false)),
            false,
        ))
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // Both as `List`, so that evaluation reads one list layout.
        arg_types
            .iter()
            .map(|t| {
                Ok(DataType::List(Arc::new(Field::new_list_field(
                    element(t)?.clone(),
                    true,
                ))))
            })
            .collect()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [keys, values] = args.args.as_slice() else {
            return plan_err!("MAP_FROM_ARRAYS takes 2 arguments");
        };
        let (keys, values) = (keys.to_array(rows)?, values.to_array(rows)?);
        let map = build(
            keys.as_list::<i32>(),
            values.as_list::<i32>(),
            self.last_wins,
        )?;
        Ok(ColumnarValue::Array(Arc::new(map)))
    }
}

/// One map per row of `keys` and `values`, NULL where either list is NULL;
/// with `last_wins`, a repeated key keeps its first position and last value.
fn build(
    keys: &arrow::array::ListArray,
    values: &arrow::array::ListArray,
    last_wins: bool,
) -> Result<MapArray> {
    let converter = RowConverter::new(vec![SortField::new(keys.value_type())])?;
    let encoded = converter.convert_columns(&[keys.values().clone()])?;
    let mut key_rows: Vec<u32> = Vec::new();
    let mut value_rows: Vec<u32> = Vec::new();
    let mut offsets: Vec<i32> = Vec::with_capacity(keys.len() + 1);
    offsets.push(0);
    let mut valid = Vec::with_capacity(keys.len());
    let mut first: HashMap<&[u8], usize> = HashMap::new();
    for row in 0..keys.len() {
        let present = keys.is_valid(row) && values.is_valid(row);
        valid.push(present);
        if present {
            let (ks, ke) = (
                keys.value_offsets()[row] as usize,
                keys.value_offsets()[row + 1] as usize,
            );
            let vs = values.value_offsets()[row] as usize;
            let ve = values.value_offsets()[row + 1] as usize;
            if ke - ks != ve - vs {
                return exec_err!(
                    "MAP_FROM_ARRAYS: the key array has {} elements and the value array {}",
                    ke - ks,
                    ve - vs
                );
            }
            first.clear();
            for (k, v) in (ks..ke).zip(vs..ve) {
                if keys.values().is_null(k) {
                    return exec_err!("a map key is NULL; map keys must not be NULL");
                }
                match first.get(encoded.row(k).data()) {
                    Some(&slot) if last_wins => value_rows[slot] = v as u32,
                    _ => {
                        first.insert(encoded.row(k).data(), key_rows.len());
                        key_rows.push(k as u32);
                        value_rows.push(v as u32);
                    }
                }
            }
        }
        offsets.push(i32::try_from(key_rows.len()).map_err(|_| {
            datafusion_common::DataFusionError::Execution("a map batch over 2^31 entries".into())
        })?);
    }
    let key_column = take(keys.values(), &UInt32Array::from(key_rows), None)?;
    let value_column = take(values.values(), &UInt32Array::from(value_rows), None)?;
    let fields = entries(key_column.data_type(), value_column.data_type());
    let struct_array = StructArray::try_new(fields.clone(), vec![key_column, value_column], None)?;
    let entries_field = Arc::new(Field::new("entries", DataType::Struct(fields), false));
    Ok(MapArray::try_new(
        entries_field,
        OffsetBuffer::new(offsets.into()),
        struct_array,
        Some(NullBuffer::from(valid)),
        false,
    )?)
}

fn map_udf(name: &'static str, last_wins: bool) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(MapFromArrays {
        name,
        last_wins,
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

/// Plans `MAP(k1, v1, ...)` (the rewritten `MAP[...]`) as the constructor
/// over `ARRAY[k1, ...]` and `ARRAY[v1, ...]`; must come before
/// DataFusion's nested-function planner, which would reject repeated keys.
#[derive(Debug)]
pub struct MapPlanner;

impl ExprPlanner for MapPlanner {
    fn plan_make_map(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        if args.is_empty() || !args.len().is_multiple_of(2) {
            return plan_err!(
                "MAP[...] requires an even number of arguments (key, value, ...), not {}",
                args.len()
            );
        }
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        for (i, arg) in args.into_iter().enumerate() {
            if i % 2 == 0 {
                keys.push(arg)
            } else {
                values.push(arg)
            }
        }
        let (keys, values) = (make_array(keys), make_array(values));
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(map_udf("map", true), vec![keys, values]),
        )))
    }
}

/// The map functions.
pub(super) fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![map_udf("map_from_arrays", false)]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow::array::{Int32Array, ListArray, StringArray};
    use arrow::datatypes::Int32Type;

    #[test]
    fn a_repeated_key_in_the_constructor_keeps_its_first_position_and_last_value() {
        let keys = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2), Some(1)]),
            None,
            Some(vec![]),
        ]);
        let values = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            OffsetBuffer::from_lengths([3, 1, 0]),
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some("c"),
                Some("d"),
            ])),
            None,
        );
        let map = build(&keys, &values, true).unwrap();
        assert_eq!(map.value_offsets(), &[0, 2, 2, 2]);
        assert!(map.is_null(1) && map.is_valid(2));
        let first = map.value(0);
        let k: &Int32Array = first.column(0).as_primitive();
        assert_eq!(k.values(), &[1, 2]);
        let v = first.column(1).as_string::<i32>();
        assert_eq!((v.value(0), v.is_null(1)), ("c", true));
        // MAP_FROM_ARRAYS keeps every entry.
        assert_eq!(
            build(&keys, &values, false).unwrap().value_offsets(),
            &[0, 3, 3, 3]
        );
    }

    #[test]
    fn null_keys_and_unequal_lengths_are_errors() {
        let keys = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![None])]);
        let values = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        assert!(build(&keys, &values, true)
            .unwrap_err()
            .to_string()
            .contains("NULL"));
        let values = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![])]);
        assert!(build(&keys, &values, false)
            .unwrap_err()
            .to_string()
            .contains("elements"));
    }
}
