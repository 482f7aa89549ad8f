//! The stores a test runs against: SQLite always, PostgreSQL (a fresh schema, dropped
//! afterwards) when `STEWARD_TEST_DATABASE_URL` is set; with `STEWARD_REQUIRE_POSTGRES=1`
//! its absence is a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use steward_store::Store;

pub struct TestStore {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.pg_schema
            && let Ok(mut c) = postgres::Client::connect(url, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

pub fn all() -> Vec<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = steward_store::open(dir.path(), None).unwrap();
    let mut stores = vec![TestStore { store: sqlite, _dir: Some(dir), pg_schema: None }];
    match std::env::var("STEWARD_TEST_DATABASE_URL") {
        Ok(url) => {
            static N: AtomicUsize = AtomicUsize::new(0);
            let schema = format!("steward_engine_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            client.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
            let store = steward_store::open(std::path::Path::new("unused"), Some(&scoped)).unwrap();
            stores.push(TestStore { store, _dir: None, pg_schema: Some((url, schema)) });
        }
        Err(_) if std::env::var("STEWARD_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("STEWARD_REQUIRE_POSTGRES=1 but STEWARD_TEST_DATABASE_URL is not set")
        }
        Err(_) => eprintln!("PostgreSQL skipped: set STEWARD_TEST_DATABASE_URL to run against it too"),
    }
    stores
}
