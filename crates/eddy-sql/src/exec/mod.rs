//! The operators of SQL jobs, over Arrow batches.

pub mod accum;
pub mod aggs;
pub mod calc;
pub mod changelog;
pub mod expand;
pub mod failure;
pub mod group_agg;
pub mod interval_join;
pub mod join;
pub mod keys;
pub mod lookup;
pub mod lookup_cache;
pub mod normalize;
pub mod not_null;
pub mod origin;
pub mod over;
pub mod rank;
pub mod semi_join;
pub mod session_panes;
pub mod slice_panes;
pub mod temporal_join;
pub mod val;
pub mod values;
pub mod watermark;
pub mod window;
pub mod window_panes;
