//! Ids of job vertices: 32 hex digits, as Flink shows them, derived from the
//! operator's uid so they stay the same across runs and restarts of a job.

/// The REST id of the vertex whose operator uid is `uid` (FNV-1a, 128 bits).
///
/// ```
/// let id = eddy_rest::vertex_id("source-1");
/// assert_eq!(id.len(), 32);
/// assert_eq!(id, eddy_rest::vertex_id("source-1"));
/// assert_ne!(id, eddy_rest::vertex_id("source-2"));
/// ```
pub fn vertex_id(uid: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let hash = uid
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    format!("{hash:032x}")
}
