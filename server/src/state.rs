//! The application state every handler shares: the database, the signing
//! key, the admin token, the clock, and the caches of product keys and
//! parsed license specs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::{json, Value};
use tessera::issuer::SigningKey;
use tessera::{Clock, License, ManualClock, SystemClock};

use crate::error::ApiError;
use crate::licenses::db::LicenseRow;
use crate::products::db as products_db;
use crate::store::{Db, DbError, PgClient};
use crate::wal::Checkpointer;

/// Everything a request needs.
pub(crate) struct App {
    /// Where the data lives.
    store: Store,
    pub key: SigningKey,
    pub(crate) admin_token: String,
    pub check_in_days: u32,
    /// A connection with no byte either way for this long is closed.
    pub idle_timeout: std::time::Duration,
    clock: Arc<dyn Clock>,
    manual: Option<Arc<ManualClock>>,
    /// Products' shared keys, which never change once created.
    product_keys: std::sync::RwLock<HashMap<String, Vec<u8>>>,
    /// ParsedLicense license specs by id, with the revision they were parsed at.
    specs: Mutex<HashMap<String, (i64, ParsedLicense)>>,
    /// The floating seats whose heartbeat this instance can renew in one
    /// statement (PostgreSQL only).
    pub(crate) known_seats: crate::seats::known::Known,
    /// When (Unix seconds) this instance last forgot the spent nonces
    /// whose time has passed.
    nonces_swept: std::sync::atomic::AtomicI64,
    /// The proxies whose forwarding headers name the client.
    pub(crate) trusted_proxies: crate::client_address::TrustedProxies,
    /// The most connections held open at once (None: the descriptor limit
    /// less a reserve), and from one address (crate::admission).
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_connections_per_address: usize,
    /// The key and chain that sign LicenseSpring's answers (seed 003), when
    /// the seeds are served.
    /// Whether webhooks may reach private, loopback and link-local
    /// addresses (a receiver inside the vendor's own network, or a test's).
    pub(crate) webhooks_allow_private: bool,
    /// How long a webhook's receiver has to answer.
    pub(crate) webhook_deadline: std::time::Duration,
    /// The keys whose signed releases the admin API accepts: the server's
    /// own and the configuration's `release_keys`.
    pub(crate) release_keys: tessera::Keyring,
    /// The folder served at `/downloads/` (releases the server hosts).
    pub(crate) downloads: Option<std::path::PathBuf>,
    /// Whether the server speaks TLS: the web faces' cookies are then
    /// `Secure`.
    pub(crate) tls: bool,
    #[cfg(feature = "compat")]
    pub(crate) licensespring_signer:
        Option<Arc<crate::compat::licensespring::signature::AnswerSigner>>,
}

/// How long a webhook's receiver has to answer (the whole exchange),
/// unless the configuration says otherwise (`webhook_timeout_secs`).
const WEBHOOK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// The database a server runs on.
pub(crate) enum Store {
    /// One SQLite file. The requests' connection sits behind a plain lock,
    /// never held across an await: at 128 clients it served about 30% more
    /// heartbeats per second than tokio's async lock, with the same tail
    /// (docs/PROTOCOL.md).
    Sqlite {
        conn: Arc<Mutex<Connection>>,
        checkpoints: Checkpointer,
    },
    /// A PostgreSQL database, through a pool of connections; other
    /// instances may share it.
    Postgres(deadpool_postgres::Pool),
}

/// A license's spec as issued (switched-off features left out) and the
/// license it describes.
pub(crate) type ParsedLicense = Arc<(Value, License)>;

impl App {
    pub(crate) fn new(
        store: Store,
        key: SigningKey,
        admin_token: String,
        check_in_days: u32,
        idle_timeout: std::time::Duration,
        test_clock: bool,
    ) -> App {
        let manual = test_clock.then(|| Arc::new(ManualClock::new(SystemClock.now())));
        let clock: Arc<dyn Clock> = match &manual {
            Some(m) => m.clone(),
            None => Arc::new(SystemClock),
        };
        let release_keys = tessera::Keyring::from_keys([key.public_key().clone()]);
        App {
            release_keys,
            downloads: None,
            tls: false,
            store,
            key,
            admin_token,
            check_in_days,
            idle_timeout,
            clock,
            manual,
            product_keys: Default::default(),
            specs: Default::default(),
            known_seats: Default::default(),
            nonces_swept: Default::default(),
            trusted_proxies: Default::default(),
            max_connections: None,
            max_connections_per_address: crate::admission::PER_ADDRESS,
            webhooks_allow_private: false,
            webhook_deadline: WEBHOOK_DEADLINE,
            #[cfg(feature = "compat")]
            licensespring_signer: None,
        }
    }

    /// The row's spec and license, parsed once per revision.
    pub(crate) fn license_of(&self, row: &LicenseRow) -> Result<ParsedLicense, ApiError> {
        let mut cache = self.specs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((revision, parsed)) = cache.get(&row.id) {
            if *revision == row.revision {
                return Ok(Arc::clone(parsed));
            }
        }
        let mut spec: Value =
            serde_json::from_str(&row.spec).map_err(|e| ApiError::internal(e.to_string()))?;
        let off: Vec<String> = serde_json::from_str(&row.features_off).unwrap_or_default();
        if let Some(features) = spec
            .get_mut("product_features")
            .and_then(Value::as_array_mut)
        {
            features.retain(|f| !off.iter().any(|o| f["code"] == json!(o)));
        }
        let license: License = serde_json::from_value({
            let mut v = spec.clone();
            v["format"] = json!(1);
            v["issued_at"] = json!("1970-01-01T00:00:00Z");
            v
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let parsed = Arc::new((spec, license));
        cache.insert(row.id.clone(), (row.revision, Arc::clone(&parsed)));
        Ok(parsed)
    }

    /// Whether the row's feature `code` is switched off.
    pub(crate) fn feature_is_off(&self, row: &LicenseRow, code: &str) -> bool {
        serde_json::from_str::<Vec<String>>(&row.features_off)
            .map(|off| off.iter().any(|o| o == code))
            .unwrap_or(false)
    }

    /// Whether this request should forget the expired nonces: one request
    /// a second does (a statement saved on every other one); each
    /// instance sweeps for itself.
    pub(crate) fn nonce_sweep_due(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.nonces_swept.load(Ordering::Relaxed);
        now > last
            && self
                .nonces_swept
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Whether the data lives in PostgreSQL, where each statement is a
    /// round trip to another process.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.store, Store::Postgres(_))
    }

    /// The PostgreSQL pool, for a request that is one statement
    /// ([`crate::store::pg_row`]); None on SQLite.
    pub(crate) fn postgres_pool(&self) -> Option<&deadpool_postgres::Pool> {
        match &self.store {
            Store::Postgres(pool) => Some(pool),
            Store::Sqlite { .. } => None,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now().into()
    }

    /// Sets the test clock (only when started with `test_clock`).
    pub(crate) fn set_clock(&self, at: DateTime<Utc>) -> Result<(), ApiError> {
        match &self.manual {
            Some(m) => {
                m.set(at.into());
                Ok(())
            }
            None => Err(ApiError::not_found("not_found", "no such endpoint")),
        }
    }

    /// Runs `f` with the database (its lock held).
    pub(crate) async fn with_db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &Db<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.with_db_then(f, |_, value| Ok(value)).await
    }

    /// Runs `f` with the database (its lock held), then `then` with `f`'s
    /// result after the lock is released: signing stays out of the lock.
    pub(crate) async fn with_db_then<T: Send + 'static, U: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &Db<'_>) -> Result<T, ApiError> + Send + 'static,
        then: impl FnOnce(&App, T) -> Result<U, ApiError> + Send + 'static,
    ) -> Result<U, ApiError> {
        // The admin request this task serves, audited inside its writes.
        let audited = crate::audit::context::of_this_task();
        let value = match &self.store {
            // Every statement is short (prepared, indexed, no fsync in WAL
            // with synchronous = NORMAL, checkpoints on a thread of their
            // own), so it runs on the worker itself: handing it to a
            // blocking thread cost more than the work.
            Store::Sqlite { conn, checkpoints } => {
                let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let before = conn.total_changes();
                let now = self.now().timestamp();
                let value = crate::audit::context::on_this_thread(audited, || {
                    crate::outbox::context::on_this_thread(now, || f(self, &Db::Sqlite(&conn)))
                });
                if conn.total_changes() != before {
                    checkpoints.wrote();
                }
                value?
            }
            // Each statement waits for a round trip to the server: on a
            // blocking thread, with a connection of the pool.
            Store::Postgres(pool) => {
                let (app, pool) = (Arc::clone(self), pool.clone());
                let runtime = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let client = runtime
                        .block_on(pool.get())
                        .map_err(|e| DbError::Pool(e.to_string()))?;
                    let client = PgClient::new(client, runtime);
                    let now = app.now().timestamp();
                    crate::audit::context::on_this_thread(audited, || {
                        crate::outbox::context::on_this_thread(now, || f(&app, &Db::Pg(&client)))
                    })
                })
                .await
                .map_err(|e| {
                    eprintln!("tessera-server: a request's database task failed: {e}");
                    ApiError::internal("an internal error; the server's log has the details")
                })??
            }
        };
        then(self, value)
    }

    /// A product's shared key: from the cache, or the database once (keys
    /// never change once created).
    pub(crate) async fn product_key(
        self: &Arc<Self>,
        product: &str,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let cached = self
            .product_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(product)
            .cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let looked_up = product.to_owned();
        let key = self
            .with_db(move |_, conn| Ok(products_db::product_key(conn, &looked_up)?))
            .await?;
        if let Some(k) = &key {
            self.product_keys
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(product.to_owned(), k.clone());
        }
        Ok(key)
    }
}

/// The state every handler takes.
pub(crate) type AppState = axum::extract::State<Arc<App>>;
