//! The cache of a lookup join that fetches rows by key (Flink's
//! `lookup.cache` = `PARTIAL`): the rows found for each key (or none, with
//! `lookup.partial-cache.cache-missing-key`), dropped after
//! `expire-after-write` or `expire-after-access`, and the least recently used
//! keys evicted beyond `max-rows` keys.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::error::{SqlError, SqlResult};

/// How a lookup join caches (Flink's lookup options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheOptions {
    /// Whether rows are cached at all (`lookup.cache` = `PARTIAL`; `NONE`, the
    /// default, looks every key up).
    pub partial: bool,
    /// `lookup.partial-cache.expire-after-write`.
    pub expire_after_write: Option<Duration>,
    /// `lookup.partial-cache.expire-after-access`.
    pub expire_after_access: Option<Duration>,
    /// `lookup.partial-cache.max-rows` (keys held).
    pub max_rows: Option<usize>,
    /// `lookup.partial-cache.cache-missing-key` (default true): whether a key
    /// without rows is cached too.
    pub cache_missing_key: bool,
    /// `lookup.cache` = `FULL`: the whole table, loaded again every
    /// `lookup.full-cache.periodic-reload.interval` (1 h).
    pub full: Option<Duration>,
}

/// The lookup options a table may set.
pub const LOOKUP_OPTIONS: &[&str] = &[
    "lookup.cache",
    "lookup.partial-cache.expire-after-write",
    "lookup.partial-cache.expire-after-access",
    "lookup.partial-cache.max-rows",
    "lookup.partial-cache.cache-missing-key",
    "lookup.cache.max-rows",
    "lookup.cache.ttl",
    "lookup.cache.caching-missing-key",
    "lookup.full-cache.reload-strategy",
    "lookup.full-cache.periodic-reload.interval",
];

impl CacheOptions {
    /// The cache a table's options ask for (Flink's names, and the older
    /// `lookup.cache.max-rows` / `lookup.cache.ttl`, which imply `PARTIAL`).
    pub fn from_options(
        table: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> SqlResult<CacheOptions> {
        let bad = |key: &str, message: String| {
            SqlError::new(format!("option '{key}' of table {table}: {message}"))
        };
        let duration = |key: &str| -> SqlResult<Option<Duration>> {
            options
                .get(key)
                .map(|v| eddy_core::time::parse_duration(v).map_err(|e| bad(key, e.to_string())))
                .transpose()
        };
        let count = |key: &str| -> SqlResult<Option<usize>> {
            options
                .get(key)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| bad(key, format!("'{v}' is not a number of rows")))
                })
                .transpose()
        };
        let flag = |key: &str| -> SqlResult<Option<bool>> {
            options
                .get(key)
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(bad(key, format!("'{v}' is not true or false"))),
                })
                .transpose()
        };
        let legacy_rows = count("lookup.cache.max-rows")?;
        let legacy_ttl = duration("lookup.cache.ttl")?;
        let partial = match options.get("lookup.cache").map(|v| v.to_ascii_uppercase()) {
            None => legacy_rows.is_some() || legacy_ttl.is_some(),
            Some(v) if v == "NONE" => false,
            Some(v) if v == "PARTIAL" => true,
            Some(v) if v == "FULL" => {
                match options
                    .get("lookup.full-cache.reload-strategy")
                    .map(|v| v.to_ascii_uppercase())
                    .as_deref()
                {
                    None | Some("PERIODIC") => {}
                    Some(other) => {
                        return Err(SqlError::unsupported(format!(
                            "'lookup.full-cache.reload-strategy' = '{other}' of table {table} (eddy reloads PERIODIC)"
                        )))
                    }
                }
                let interval = duration("lookup.full-cache.periodic-reload.interval")?
                    .unwrap_or(Duration::from_secs(3600));
                if interval.is_zero() {
                    return Err(bad(
                        "lookup.full-cache.periodic-reload.interval",
                        "must be positive".into(),
                    ));
                }
                return Ok(CacheOptions {
                    full: Some(interval),
                    ..CacheOptions::default()
                });
            }
            Some(v) => {
                return Err(bad(
                    "lookup.cache",
                    format!("'{v}' is not one of NONE, PARTIAL, FULL"),
                ))
            }
        };
        let cache = CacheOptions {
            partial,
            expire_after_write: duration("lookup.partial-cache.expire-after-write")?.or(legacy_ttl),
            expire_after_access: duration("lookup.partial-cache.expire-after-access")?,
            max_rows: count("lookup.partial-cache.max-rows")?.or(legacy_rows),
            cache_missing_key: flag("lookup.partial-cache.cache-missing-key")?
                .or(flag("lookup.cache.caching-missing-key")?)
                .unwrap_or(true),
            full: None,
        };
        if partial
            && cache.expire_after_write.is_none()
            && cache.expire_after_access.is_none()
            && cache.max_rows.is_none()
        {
            return Err(bad(
                "lookup.cache",
                "PARTIAL needs 'lookup.partial-cache.max-rows', 'lookup.partial-cache.expire-after-write' or 'lookup.partial-cache.expire-after-access'".into(),
            ));
        }
        Ok(cache)
    }
}

struct Entry {
    rows: Vec<Vec<u8>>,
    written: Instant,
    accessed: Instant,
    /// Its place in the recency order.
    stamp: u64,
}

/// See the module docs. Keys and rows are encoded rows.
pub struct LookupCache {
    options: CacheOptions,
    entries: HashMap<Vec<u8>, Entry>,
    /// Keys by recency of access, oldest first.
    recency: BTreeMap<u64, Vec<u8>>,
    next_stamp: u64,
    hits: u64,
    misses: u64,
}

impl LookupCache {
    /// An empty cache.
    pub fn new(options: CacheOptions) -> Self {
        LookupCache {
            options,
            entries: HashMap::new(),
            recency: BTreeMap::new(),
            next_stamp: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The rows cached for `key`, unless absent or expired at `now`.
    pub fn get(&mut self, key: &[u8], now: Instant) -> Option<&Vec<Vec<u8>>> {
        if !self.options.partial {
            return None;
        }
        let expired = self.entries.get(key).map(|e| {
            self.options
                .expire_after_write
                .is_some_and(|ttl| now.duration_since(e.written) >= ttl)
                || self
                    .options
                    .expire_after_access
                    .is_some_and(|ttl| now.duration_since(e.accessed) >= ttl)
        });
        match expired {
            None => {
                self.misses += 1;
                return None;
            }
            Some(true) => {
                if let Some(e) = self.entries.remove(key) {
                    self.recency.remove(&e.stamp);
                }
                self.misses += 1;
                return None;
            }
            Some(false) => {}
        }
        self.hits += 1;
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let entry = self.entries.get_mut(key)?;
        self.recency.remove(&entry.stamp);
        self.recency.insert(stamp, key.to_vec());
        entry.stamp = stamp;
        entry.accessed = now;
        Some(&entry.rows)
    }

    /// Caches the rows found for `key` at `now` (nothing when the cache is
    /// off, or when no row was found and missing keys are not cached).
    pub fn put(&mut self, key: Vec<u8>, rows: Vec<Vec<u8>>, now: Instant) {
        if !self.options.partial || (rows.is_empty() && !self.options.cache_missing_key) {
            return;
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if let Some(old) = self.entries.insert(
            key.clone(),
            Entry {
                rows,
                written: now,
                accessed: now,
                stamp,
            },
        ) {
            self.recency.remove(&old.stamp);
        }
        self.recency.insert(stamp, key);
        if let Some(max) = self.options.max_rows {
            while self.entries.len() > max {
                let Some((_, oldest)) = self.recency.pop_first() else {
                    break;
                };
                self.entries.remove(&oldest);
            }
        }
    }

    /// Lookups answered from the cache, and lookups that were not.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_read_as_flink_names_them() {
        let none = CacheOptions::from_options("t", &options(&[])).expect("valid");
        assert!(!none.partial);
        let partial = CacheOptions::from_options(
            "t",
            &options(&[
                ("lookup.cache", "PARTIAL"),
                ("lookup.partial-cache.expire-after-write", "10 s"),
                ("lookup.partial-cache.max-rows", "100"),
                ("lookup.partial-cache.cache-missing-key", "false"),
            ]),
        )
        .expect("valid");
        assert_eq!(partial.expire_after_write, Some(Duration::from_secs(10)));
        assert_eq!(partial.max_rows, Some(100));
        assert!(!partial.cache_missing_key);
        let legacy = CacheOptions::from_options("t", &options(&[("lookup.cache.ttl", "1 min")]))
            .expect("valid");
        assert!(legacy.partial);
        for bad in [
            vec![("lookup.cache", "PARTIAL")],
            vec![("lookup.cache", "SOMETIMES")],
            vec![
                ("lookup.cache", "PARTIAL"),
                ("lookup.partial-cache.max-rows", "many"),
            ],
        ] {
            assert!(
                CacheOptions::from_options("t", &options(&bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn entries_expire_and_the_least_recent_are_evicted() {
        let mut cache = LookupCache::new(CacheOptions {
            partial: true,
            expire_after_write: Some(Duration::from_secs(10)),
            max_rows: Some(2),
            cache_missing_key: true,
            ..CacheOptions::default()
        });
        let t0 = Instant::now();
        cache.put(b"a".to_vec(), vec![b"1".to_vec()], t0);
        cache.put(b"b".to_vec(), vec![], t0);
        assert!(cache.get(b"a", t0).is_some());
        cache.put(b"c".to_vec(), vec![b"3".to_vec()], t0);
        // b was used least recently.
        assert!(cache.get(b"b", t0).is_none());
        assert!(cache.get(b"a", t0).is_some());
        assert!(cache.get(b"a", t0 + Duration::from_secs(10)).is_none());
        assert_eq!(cache.hits_and_misses(), (2, 2));
    }
}
