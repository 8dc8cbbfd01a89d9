//! `IF(condition, then, else)`: Flink's conditional function. A NULL condition
//! takes the `else` branch, as `CASE WHEN` does; both branches are coerced to
//! one type.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{cast, prep_null_mask_filter};
use arrow::datatypes::DataType;
use datafusion_common::{plan_err, Result};
use datafusion_expr::type_coercion::binary::comparison_coercion;
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `IF`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct If {
    signature: Signature,
}

impl ScalarUDFImpl for If {
    fn name(&self) -> &str {
        "if"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.get(1).cloned().unwrap_or(DataType::Null))
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [condition, then, otherwise] = arg_types else {
            return plan_err!("IF takes 3 arguments, not {}", arg_types.len());
        };
        if !matches!(condition, DataType::Boolean | DataType::Null) {
            return plan_err!(
                "the condition of IF must be a BOOLEAN, not {}",
                crate::types::sql_name(condition)
            );
        }
        let Some(common) = comparison_coercion(then, otherwise) else {
            return plan_err!(
                "the branches of IF have no common type: {} and {}",
                crate::types::sql_name(then),
                crate::types::sql_name(otherwise)
            );
        };
        Ok(vec![DataType::Boolean, common.clone(), common])
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [condition, then, otherwise] = args.args.as_slice() else {
            return plan_err!("IF takes 3 arguments");
        };
        let condition = condition.to_array(rows)?;
        let condition = cast(&condition, &DataType::Boolean)?;
        let condition: &BooleanArray = condition.as_boolean();
        // NULL counts as false.
        let condition = match condition.null_count() {
            0 => condition.clone(),
            _ => prep_null_mask_filter(condition),
        };
        let (then, otherwise) = (then.to_array(rows)?, otherwise.to_array(rows)?);
        Ok(ColumnarValue::Array(zip(&condition, &then, &otherwise)?))
    }
}

/// The conditional functions.
pub(super) fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![Arc::new(ScalarUDF::new_from_impl(If {
        signature: Signature::user_defined(Volatility::Immutable),
    }))]
}
