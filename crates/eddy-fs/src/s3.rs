//! The S3 clients: one per bucket, built from Flink's `s3.*` keys over the AWS
//! environment, and rebuilt when the configuration changes.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use object_store::aws::{AmazonS3, AmazonS3Builder};

/// The configuration keys read by [`configure`].
pub const S3_KEYS: [&str; 6] = [
    "s3.endpoint",
    "s3.access-key",
    "s3.secret-key",
    "s3.path.style.access",
    "s3.region",
    "s3.endpoint.region",
];

#[derive(Default)]
struct Registry {
    options: BTreeMap<String, String>,
    stores: HashMap<String, Arc<AmazonS3>>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Takes the S3 options (the keys of [`S3_KEYS`]) out of a configuration, for
/// every S3 location opened from now on in this process: Flink's file systems
/// are configured per process, from the cluster's configuration. Other keys are
/// ignored; keys not given keep their earlier value.
pub fn configure<'a>(config: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut registry = registry();
    let mut changed = false;
    for (key, value) in config {
        if S3_KEYS.contains(&key) && registry.options.get(key).map(String::as_str) != Some(value) {
            registry.options.insert(key.to_string(), value.to_string());
            changed = true;
        }
    }
    if changed {
        registry.stores.clear();
    }
}

/// The client of `bucket`.
pub(crate) fn store(bucket: &str) -> io::Result<Arc<AmazonS3>> {
    let mut registry = registry();
    if let Some(store) = registry.stores.get(bucket) {
        return Ok(store.clone());
    }
    let options = &registry.options;
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = options.get("s3.endpoint") {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(key) = options.get("s3.access-key") {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = options.get("s3.secret-key") {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(path_style) = options.get("s3.path.style.access") {
        builder =
            builder.with_virtual_hosted_style_request(!path_style.eq_ignore_ascii_case("true"));
    }
    let region = options
        .get("s3.region")
        .or_else(|| options.get("s3.endpoint.region"));
    if let Some(region) = region {
        builder = builder.with_region(region);
    }
    let store = Arc::new(builder.build().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("configuring S3 for bucket {bucket}: {e}"),
        )
    })?);
    registry.stores.insert(bucket.to_string(), store.clone());
    Ok(store)
}
