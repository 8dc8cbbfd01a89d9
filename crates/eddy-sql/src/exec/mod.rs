//! The operators of SQL jobs, over Arrow batches.

pub mod accum;
pub mod aggs;
pub mod calc;
pub mod changelog;
pub mod expand;
pub mod failure;
pub mod first_row;
pub mod group_agg;
pub mod interval_join;
pub mod join;
pub mod keys;
pub mod local_agg;
pub mod lookup;
pub mod lookup_cache;
pub mod mini_batch;
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

/// A value-state descriptor whose entries expire after `ttl_ms`
/// (`table.exec.state.ttl`), or never.
pub(crate) fn value_state<T>(name: &str, ttl_ms: Option<u64>) -> eddy_state::ValueStateDescriptor<T>
where
    T: eddy_state::StateData,
{
    let descriptor = eddy_state::ValueStateDescriptor::new(name);
    match ttl_ms {
        Some(ttl) => descriptor.with_ttl(eddy_state::StateTtlConfig::new(
            std::time::Duration::from_millis(ttl),
        )),
        None => descriptor,
    }
}
