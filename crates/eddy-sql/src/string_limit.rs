//! A bound on the strings that functions build from small inputs.
//!
//! `REPEAT('x', 2000000000)`, `LPAD(s, 2000000000, 'x')` or a `REPLACE` that
//! multiplies its input would allocate gigabytes before failing. The
//! functions that can make a string much longer than their arguments are
//! wrapped: before they run, the length of every result is computed from the
//! arguments, and a result longer than [`MAX_STRING_LENGTH`] characters (or a
//! call whose results together exceed [`MAX_CALL_LENGTH`]) is an error that
//! names the function, instead of an allocation that takes the machine down.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::datatypes::FieldRef;
use datafusion_common::{exec_err, Result};
use datafusion_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};

/// The longest string value a function may build, in characters (16 Mi).
pub const MAX_STRING_LENGTH: u64 = 16 << 20;

/// The most characters one call may build over a whole batch (256 Mi).
pub const MAX_CALL_LENGTH: u64 = 256 << 20;

/// How a function's result lengths follow from its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Growth {
    /// `REPEAT(s, n)`: `n` times `s`.
    Repeat,
    /// `LPAD(s, n, pad)`, `RPAD(s, n, pad)`: `n` characters.
    Pad,
    /// `REPLACE(s, from, to)`: `s` with every `from` replaced by `to`.
    Replace,
}

/// A string function whose result lengths are checked before it runs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    growth: Growth,
}

/// Wraps the functions that can build strings much longer than their
/// arguments (`repeat`, `lpad`, `rpad`, `replace`); returns others as they are.
pub fn bounded(f: Arc<ScalarUDF>) -> Arc<ScalarUDF> {
    let growth = match f.name() {
        "repeat" => Growth::Repeat,
        "lpad" | "rpad" => Growth::Pad,
        "replace" => Growth::Replace,
        _ => return f,
    };
    Arc::new(ScalarUDF::new_from_impl(Bounded { inner: f, growth }))
}

/// Row `i` of an argument that is a single value or a column.
fn at(array: &ArrayRef, i: usize) -> usize {
    if array.len() == 1 {
        0
    } else {
        i
    }
}

fn strings(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(array, &DataType::Utf8)?)
}

fn chars(array: &ArrayRef, i: usize) -> Option<&str> {
    let s = array.as_string::<i32>();
    let i = at(array, i);
    (!s.is_null(i)).then(|| s.value(i))
}

fn count(array: &ArrayRef, i: usize) -> Option<i64> {
    let ints = array.as_primitive_opt::<arrow::datatypes::Int64Type>()?;
    let i = at(array, i);
    (!ints.is_null(i)).then(|| ints.value(i))
}

impl Bounded {
    /// The length of row `i`'s result, in characters (0 for NULL).
    fn length(&self, args: &[ArrayRef], i: usize) -> u64 {
        let Some(s) = args.first().and_then(|a| chars(a, i)) else {
            return 0;
        };
        match self.growth {
            Growth::Repeat => {
                let n = match args.get(1) {
                    Some(a) => count(a, i).unwrap_or(0),
                    None => 0,
                };
                (s.chars().count() as u64).saturating_mul(n.max(0) as u64)
            }
            Growth::Pad => match args.get(1) {
                Some(a) => count(a, i).unwrap_or(0).max(0) as u64,
                None => 0,
            },
            Growth::Replace => {
                let from = args.get(1).and_then(|a| chars(a, i)).unwrap_or_default();
                let to = args.get(2).and_then(|a| chars(a, i)).unwrap_or_default();
                let (len, from_len, to_len) = (
                    s.chars().count() as u64,
                    from.chars().count() as u64,
                    to.chars().count() as u64,
                );
                if to_len <= from_len {
                    len
                } else {
                    let matches = if from.is_empty() {
                        len + 1
                    } else {
                        s.matches(from).count() as u64
                    };
                    len.saturating_add(matches.saturating_mul(to_len - from_len))
                }
            }
        }
    }

    fn check(&self, args: &ScalarFunctionArgs) -> Result<()> {
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Array(a) => Ok(a.clone()),
                ColumnarValue::Scalar(s) => s.to_array(),
            })
            .collect::<Result<_>>()?;
        let mut arrays = arrays;
        // The string arguments as Utf8, the counts as Int64.
        for (k, a) in arrays.iter_mut().enumerate() {
            let count = k == 1 && self.growth != Growth::Replace;
            if count {
                *a = cast(a, &DataType::Int64)?;
            } else if a.data_type() != &DataType::Utf8 {
                *a = strings(a)?;
            }
        }
        let rows = arrays.iter().map(|a| a.len()).max().unwrap_or(0);
        let mut total: u64 = 0;
        for i in 0..rows {
            let length = self.length(&arrays, i);
            if length > MAX_STRING_LENGTH {
                return exec_err!(
                    "{}() would build a string of {length} characters; eddy's limit is {MAX_STRING_LENGTH} characters per value",
                    self.inner.name().to_uppercase()
                );
            }
            total = total.saturating_add(length);
            if total > MAX_CALL_LENGTH {
                return exec_err!(
                    "{}() would build more than {MAX_CALL_LENGTH} characters for one batch of rows; eddy limits the strings a function builds",
                    self.inner.name().to_uppercase()
                );
            }
        }
        Ok(())
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.check(&args)?;
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    fn lengths(f: &str, args: Vec<ArrayRef>) -> Vec<u64> {
        let growth = match f {
            "repeat" => Growth::Repeat,
            "lpad" => Growth::Pad,
            _ => Growth::Replace,
        };
        let b = Bounded {
            inner: datafusion_functions::string::repeat(),
            growth,
        };
        let rows = args.iter().map(|a| a.len()).max().unwrap();
        (0..rows).map(|i| b.length(&args, i)).collect()
    }

    #[test]
    fn result_lengths_from_arguments() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None, Some("é")]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![3]));
        assert_eq!(lengths("repeat", vec![s.clone(), n.clone()]), vec![6, 0, 3]);
        assert_eq!(lengths("lpad", vec![s.clone(), n]), vec![3, 0, 3]);
        let from: ArrayRef = Arc::new(StringArray::from(vec!["b"]));
        let to: ArrayRef = Arc::new(StringArray::from(vec!["xyz"]));
        assert_eq!(lengths("replace", vec![s, from, to]), vec![4, 0, 1]);
    }
}
