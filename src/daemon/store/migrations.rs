//! Versioned schema migrations, applied in order; `PRAGMA user_version` records how
//! far a database has come. Never edit a released step: add a new one.

use rusqlite::Connection;

const STEPS: &[&str] = &[
    // 1: the first schema. Times are Unix milliseconds (UTC).
    r#"
    CREATE TABLE tenants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        revision INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE resources (
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        secrets TEXT NOT NULL DEFAULT '[]',
        source TEXT,
        file TEXT,
        line INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, kind, name)
    );
    CREATE TABLE check_state (
        tenant_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        successes INTEGER NOT NULL DEFAULT 0,
        last_run_at INTEGER,
        last_up INTEGER,
        last_latency_ms REAL,
        last_error TEXT,
        PRIMARY KEY (tenant_id, name)
    );
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        up INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        status_code INTEGER,
        error TEXT,
        detail TEXT NOT NULL
    );
    CREATE INDEX results_by_check ON results (tenant_id, check_name, id);
    CREATE INDEX results_by_time ON results (started_at);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT NOT NULL,
        error TEXT NOT NULL,
        status_code INTEGER,
        count INTEGER NOT NULL,
        dedup_hash TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        escalated_at INTEGER,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        resolved_at INTEGER,
        resolved_by TEXT
    );
    CREATE UNIQUE INDEX one_open_incident_per_check ON incidents (tenant_id, check_name) WHERE status != 'resolved';
    CREATE INDEX incidents_by_tenant ON incidents (tenant_id, id);
    CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_incident ON incident_events (incident_id, id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        incident_id INTEGER,
        channel TEXT NOT NULL,
        event TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        sent_at INTEGER
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_by_incident ON outbox (incident_id);
    "#,
    // 2: alert policy. `notified` is 0 while an incident's opening message is held
    // back (maintenance, a dependency down); `last_notified_at` paces reminders.
    r#"
    ALTER TABLE incidents ADD COLUMN notified INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE incidents ADD COLUMN last_notified_at INTEGER;
    CREATE INDEX incidents_open ON incidents (status, notified);
    "#,
    // 3: `insecure` of grpc and tcp checks moved into their `tls` settings
    // (`tls: {insecure: true}`); it never meant anything without `tls: true`.
    r#"
    UPDATE resources SET spec = json_set(spec, '$.tcp.tls', json('{"insecure":true}'))
     WHERE kind = 'Check' AND json_extract(spec, '$.tcp.insecure') = 1 AND json_extract(spec, '$.tcp.tls') = 1;
    UPDATE resources SET spec = json_remove(spec, '$.tcp.insecure')
     WHERE kind = 'Check' AND json_type(spec, '$.tcp.insecure') IS NOT NULL;
    UPDATE resources SET spec = json_set(spec, '$.grpc.tls', json('{"insecure":true}'))
     WHERE kind = 'Check' AND json_extract(spec, '$.grpc.insecure') = 1 AND json_extract(spec, '$.grpc.tls') = 1;
    UPDATE resources SET spec = json_remove(spec, '$.grpc.insecure')
     WHERE kind = 'Check' AND json_type(spec, '$.grpc.insecure') IS NOT NULL;
    "#,
    // 4: messages a provider sent and may edit later (Telegram's message_id), with
    // the text as sent, so that a button press can show who did what.
    r#"
    CREATE TABLE sent_messages (
        outbox_id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        incident_id INTEGER,
        channel TEXT NOT NULL,
        chat TEXT NOT NULL,
        message_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX sent_messages_by_message ON sent_messages (tenant_id, channel, chat, message_id);
    "#,
    // 5: a check's canonical form holds only its own type's settings; tcp and grpc
    // checks were stored with `http` defaults, graphql checks with `http.method`.
    r#"
    UPDATE resources SET spec = json_remove(spec, '$.http')
     WHERE kind = 'Check' AND json_extract(spec, '$.type') IN ('tcp', 'grpc');
    UPDATE resources SET spec = json_remove(spec, '$.http.method', '$.http.body')
     WHERE kind = 'Check' AND json_extract(spec, '$.type') = 'graphql';
    "#,
    // 6: rollups. A series is a check's identity in rollups (a small integer instead
    // of its name in every row); a check deleted and created again gets a new one,
    // never an old id (AUTOINCREMENT), so it starts with no history. Buckets are keyed by their start in minutes, hours or
    // days since the Unix epoch, then series, so that the rows written together sit
    // together. Hours and days are built from minutes once they are over (up to
    // `rollup_state.built_before`, and in that bucket
    // the series below `next_series`); a late result folds into them directly.
    // `covered_from` bounds the span a check's next result stands for (set on resume
    // and creation). `created_at` tells a run of a check deleted while it ran
    // from one of the check created again under its name. `kept` marks results kept for the longer retention: failures
    // and changes of state. Incidents gain a kind: `down` or `slo_burn`, one open of
    // each per check.
    r#"
    CREATE TABLE series (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        created_at INTEGER NOT NULL DEFAULT 0,
        UNIQUE (tenant_id, check_name)
    );
    CREATE TABLE rollup_minutes (bucket INTEGER NOT NULL, series INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (bucket, series)) WITHOUT ROWID;
    CREATE TABLE rollup_hours (bucket INTEGER NOT NULL, series INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (bucket, series)) WITHOUT ROWID;
    CREATE TABLE rollup_days (bucket INTEGER NOT NULL, series INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (bucket, series)) WITHOUT ROWID;
    CREATE TABLE rollup_state (resolution TEXT PRIMARY KEY, built_before INTEGER NOT NULL, next_series INTEGER NOT NULL DEFAULT 0);
    ALTER TABLE check_state ADD COLUMN covered_from INTEGER;
    ALTER TABLE check_state ADD COLUMN created_at INTEGER;
    ALTER TABLE check_state ADD COLUMN last_cert_expires_at INTEGER;
    ALTER TABLE results ADD COLUMN kept INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE incidents ADD COLUMN kind TEXT NOT NULL DEFAULT 'down';
    DROP INDEX one_open_incident_per_check;
    CREATE UNIQUE INDEX one_open_incident_per_check ON incidents (tenant_id, check_name, kind) WHERE status != 'resolved';
    "#,
    // 7: when a check was paused, so that a run made by hand while it is paused
    // stands for no time and one that was in flight at the pause keeps its span.
    // Checks paused before this step are taken as paused since the epoch.
    r#"
    ALTER TABLE check_state ADD COLUMN paused_at INTEGER;
    UPDATE check_state SET paused_at = 0 WHERE paused != 0;
    "#,
    // 8: people and access. Users (email unique within a tenant, lowercased; a PHC
    // password hash), invitations, sessions (a CLI login's refresh-token family or a
    // console login's cookie), refresh tokens (hashed; `used_at` set on rotation, and
    // a used one presented again revokes its session), API key expiry and use, and
    // the audit log (`tenant_id` NULL for what no tenant can be told for).
    r#"
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        last_login_at INTEGER
    );
    CREATE UNIQUE INDEX users_by_email ON users (tenant_id, email);
    CREATE INDEX users_by_email_only ON users (email);
    CREATE TABLE invitations (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        email TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        accepted_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX invitations_by_tenant ON invitations (tenant_id, email);
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL,
        cookie_hash TEXT UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        source TEXT,
        revoked_at INTEGER,
        revoked_why TEXT
    );
    CREATE INDEX sessions_by_user ON sessions (user_id);
    CREATE TABLE refresh_tokens (
        hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        created_at INTEGER NOT NULL,
        used_at INTEGER
    );
    CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
    ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
    ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT 'bootstrap';
    ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL,
        source TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_by_tenant ON audit (tenant_id, id);
    CREATE INDEX audit_by_time ON audit (at);
    "#,
    // 9: several daemons on one database. Each node says it is alive in `nodes`;
    // a lease gives one node a check (in one location, or `''` for any) until it
    // expires; `cluster_state` counts changes to checks, so that every node reloads
    // after an apply on any of them; an outbox row claimed by a node is sent by it
    // alone until the claim runs out. `location_state` holds each location's
    // latest run of a check that runs from several, for its quorum.
    r#"
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
    );
    CREATE TABLE leases (
        tenant_id INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        location TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, check_name, location)
    );
    CREATE INDEX leases_by_owner ON leases (owner);
    CREATE TABLE cluster_state (
        id INTEGER PRIMARY KEY,
        checks_version INTEGER NOT NULL
    );
    INSERT INTO cluster_state (id, checks_version) VALUES (1, 0);
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
    CREATE TABLE location_state (
        tenant_id INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        location TEXT NOT NULL,
        up INTEGER NOT NULL,
        at INTEGER NOT NULL,
        error TEXT,
        status_code INTEGER,
        dedup_hash TEXT,
        PRIMARY KEY (tenant_id, check_name, location)
    );
    "#,
    // 10: each location's figures, and the nodes' signing key. A result of a check that lists locations says
    // where it ran (`''` for one that runs from any); such a check has a series per
    // location beside its own (`location = ''`), whose time is the quorum's verdict.
    // The series table is rebuilt for its new key, keeping its ids and the highest
    // one ever handed out. `key_fingerprint` tells which key the nodes sign
    // tokens with (a digest that reveals nothing of it), `key_node` who set it.
    r#"
    ALTER TABLE results ADD COLUMN location TEXT NOT NULL DEFAULT '';
    ALTER TABLE cluster_state ADD COLUMN key_fingerprint TEXT;
    ALTER TABLE cluster_state ADD COLUMN key_node TEXT;
    CREATE TABLE series_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        created_at INTEGER NOT NULL DEFAULT 0,
        location TEXT NOT NULL DEFAULT '',
        UNIQUE (tenant_id, check_name, location)
    );
    INSERT INTO series_new (id, tenant_id, check_name, created_at) SELECT id, tenant_id, check_name, created_at FROM series;
    DELETE FROM sqlite_sequence WHERE name = 'series_new';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'series_new', seq FROM sqlite_sequence WHERE name = 'series';
    DROP TABLE series;
    ALTER TABLE series_new RENAME TO series;
    "#,
    // 11: resources of one kind, for every tenant: the writer reads every
    // maintenance window for each batch of results, which without this index
    // scanned the spec of every check (3.5% of a daemon's CPU at 30,000 checks).
    r#"
    CREATE INDEX resources_by_kind ON resources (kind, tenant_id, name);
    "#,
];

/// Brings `conn` up to the newest schema. Fails on a database from a newer version.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
        .try_into()
        .unwrap_or(0);
    if current > STEPS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database is at schema version {current}, newer than this uptimeping knows ({}); upgrade uptimeping",
            STEPS.len()
        )));
    }
    for (i, step) in STEPS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// PostgreSQL's schema, step by step as [`STEPS`]: step 1 is SQLite's schema as of
/// its step 9, written for PostgreSQL (integers are `BIGINT`, so that the store's
/// statements bind and read the same values on both; flags stay integers). Later
/// changes add a step here and one to `STEPS`.
const PG_STEPS: &[&str] = &[
    r#"
    CREATE TABLE tenants (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        revision BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id BIGINT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT,
        expires_at BIGINT,
        created_by TEXT NOT NULL DEFAULT 'bootstrap',
        last_used_at BIGINT
    );
    CREATE TABLE resources (
        tenant_id BIGINT NOT NULL REFERENCES tenants(id),
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        secrets TEXT NOT NULL DEFAULT '[]',
        source TEXT,
        file TEXT,
        line BIGINT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, kind, name)
    );
    CREATE TABLE check_state (
        tenant_id BIGINT NOT NULL,
        name TEXT NOT NULL,
        paused BIGINT NOT NULL DEFAULT 0,
        failures BIGINT NOT NULL DEFAULT 0,
        successes BIGINT NOT NULL DEFAULT 0,
        last_run_at BIGINT,
        last_up BIGINT,
        last_latency_ms DOUBLE PRECISION,
        last_error TEXT,
        covered_from BIGINT,
        created_at BIGINT,
        last_cert_expires_at BIGINT,
        paused_at BIGINT,
        PRIMARY KEY (tenant_id, name)
    );
    CREATE TABLE results (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL,
        check_name TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        up BIGINT NOT NULL,
        latency_ms DOUBLE PRECISION NOT NULL,
        status_code BIGINT,
        error TEXT,
        detail TEXT NOT NULL,
        kept BIGINT NOT NULL DEFAULT 1
    );
    CREATE INDEX results_by_check ON results (tenant_id, check_name, id);
    CREATE INDEX results_by_time ON results (started_at);
    CREATE TABLE incidents (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL,
        check_name TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT NOT NULL,
        error TEXT NOT NULL,
        status_code BIGINT,
        count BIGINT NOT NULL,
        dedup_hash TEXT NOT NULL,
        opened_at BIGINT NOT NULL,
        escalated_at BIGINT,
        acknowledged_at BIGINT,
        acknowledged_by TEXT,
        resolved_at BIGINT,
        resolved_by TEXT,
        notified BIGINT NOT NULL DEFAULT 1,
        last_notified_at BIGINT,
        kind TEXT NOT NULL DEFAULT 'down'
    );
    CREATE INDEX incidents_by_tenant ON incidents (tenant_id, id);
    CREATE INDEX incidents_open ON incidents (status, notified);
    CREATE UNIQUE INDEX one_open_incident_per_check ON incidents (tenant_id, check_name, kind) WHERE status != 'resolved';
    CREATE TABLE incident_events (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_incident ON incident_events (incident_id, id);
    CREATE TABLE outbox (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL,
        incident_id BIGINT,
        channel TEXT NOT NULL,
        event TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        sent_at BIGINT
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_by_incident ON outbox (incident_id);
    CREATE TABLE sent_messages (
        outbox_id BIGINT PRIMARY KEY,
        tenant_id BIGINT NOT NULL,
        incident_id BIGINT,
        channel TEXT NOT NULL,
        chat TEXT NOT NULL,
        message_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX sent_messages_by_message ON sent_messages (tenant_id, channel, chat, message_id);
    CREATE TABLE series (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL,
        check_name TEXT NOT NULL,
        created_at BIGINT NOT NULL DEFAULT 0,
        UNIQUE (tenant_id, check_name)
    );
    CREATE TABLE rollup_minutes (bucket BIGINT NOT NULL, series BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (bucket, series));
    CREATE TABLE rollup_hours (bucket BIGINT NOT NULL, series BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (bucket, series));
    CREATE TABLE rollup_days (bucket BIGINT NOT NULL, series BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (bucket, series));
    CREATE TABLE rollup_state (resolution TEXT PRIMARY KEY, built_before BIGINT NOT NULL, next_series BIGINT NOT NULL DEFAULT 0);
    CREATE TABLE users (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL REFERENCES tenants(id),
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_login_at BIGINT
    );
    CREATE UNIQUE INDEX users_by_email ON users (tenant_id, email);
    CREATE INDEX users_by_email_only ON users (email);
    CREATE TABLE invitations (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT NOT NULL REFERENCES tenants(id),
        email TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        accepted_at BIGINT,
        revoked_at BIGINT
    );
    CREATE INDEX invitations_by_tenant ON invitations (tenant_id, email);
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        tenant_id BIGINT NOT NULL REFERENCES tenants(id),
        user_id BIGINT NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL,
        cookie_hash TEXT UNIQUE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        source TEXT,
        revoked_at BIGINT,
        revoked_why TEXT,
        -- SQLite's implicit row id, which orders sessions created in the same millisecond.
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX sessions_by_user ON sessions (user_id);
    CREATE TABLE refresh_tokens (
        hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        created_at BIGINT NOT NULL,
        used_at BIGINT
    );
    CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
    CREATE TABLE audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant_id BIGINT,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL,
        source TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_by_tenant ON audit (tenant_id, id);
    CREATE INDEX audit_by_time ON audit (at);
    -- SQLite's JSON functions as the store's statements use them: whether text is
    -- JSON, and the value at a `$.a.b` path as text (NULL when absent, JSON null,
    -- or not JSON at all, where SQLite would fail the statement).
    CREATE FUNCTION json_valid(t TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        PERFORM t::jsonb;
        RETURN t IS NOT NULL;
    EXCEPTION WHEN others THEN
        RETURN false;
    END $$;
    CREATE FUNCTION json_extract(t TEXT, path TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        RETURN t::jsonb #>> string_to_array(substr(path, 3), '.');
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$;
"#,
    // 2: as SQLite's step 9. The JSON functions parse as `json`, which takes any
    // text SQLite's do (`jsonb` refuses a `\u0000` escape).
    r#"
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
    );
    CREATE TABLE leases (
        tenant_id BIGINT NOT NULL,
        check_name TEXT NOT NULL,
        location TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, check_name, location)
    );
    CREATE INDEX leases_by_owner ON leases (owner);
    CREATE TABLE cluster_state (
        id BIGINT PRIMARY KEY,
        checks_version BIGINT NOT NULL
    );
    INSERT INTO cluster_state (id, checks_version) VALUES (1, 0);
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
    CREATE TABLE location_state (
        tenant_id BIGINT NOT NULL,
        check_name TEXT NOT NULL,
        location TEXT NOT NULL,
        up BIGINT NOT NULL,
        at BIGINT NOT NULL,
        error TEXT,
        status_code BIGINT,
        dedup_hash TEXT,
        PRIMARY KEY (tenant_id, check_name, location)
    );
    CREATE OR REPLACE FUNCTION json_valid(t TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        PERFORM t::json;
        RETURN t IS NOT NULL;
    EXCEPTION WHEN others THEN
        RETURN false;
    END $$;
    CREATE OR REPLACE FUNCTION json_extract(t TEXT, path TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        RETURN t::json #>> string_to_array(substr(path, 3), '.');
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$;
"#,
    // 3: as SQLite's step 10.
    r#"
    ALTER TABLE results ADD COLUMN location TEXT NOT NULL DEFAULT '';
    ALTER TABLE cluster_state ADD COLUMN key_fingerprint TEXT;
    ALTER TABLE cluster_state ADD COLUMN key_node TEXT;
    ALTER TABLE series ADD COLUMN location TEXT NOT NULL DEFAULT '';
    ALTER TABLE series DROP CONSTRAINT series_tenant_id_check_name_key;
    ALTER TABLE series ADD CONSTRAINT series_tenant_id_check_name_location_key UNIQUE (tenant_id, check_name, location);
"#,
    // 4: as SQLite's step 11.
    r#"
    CREATE INDEX resources_by_kind ON resources (kind, tenant_id, name);
"#,
];

/// Brings a PostgreSQL database up to the newest schema, in one transaction that
/// holds an advisory lock, so that nodes starting together migrate once. Fails on
/// a database from a newer version.
pub fn migrate_postgres(conn: &mut super::sql::PgConn) -> super::Result<()> {
    let db = super::sql::Db::pg_transaction(conn)?;
    db.execute("SELECT pg_advisory_xact_lock(7283416551)", [])?;
    db.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let current: i64 = db
        .query_opt("SELECT version FROM schema_version", [], |r| r.get(0))?
        .unwrap_or(0);
    let current = usize::try_from(current).unwrap_or(0);
    if current > PG_STEPS.len() {
        return Err(super::StoreError::Corrupt(format!(
            "the database is at schema version {current}, newer than this uptimeping knows ({}); upgrade uptimeping",
            PG_STEPS.len()
        )));
    }
    for step in &PG_STEPS[current..] {
        db.execute_batch(step)?;
    }
    db.execute("DELETE FROM schema_version", [])?;
    db.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [PG_STEPS.len() as i64],
    )?;
    db.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec stored for the resource `name`, as JSON.
    fn stored_spec(conn: &Connection, name: &str) -> serde_json::Value {
        let text: String = conn
            .query_row("SELECT spec FROM resources WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn incidents_gain_a_kind_with_one_open_of_each_per_check() {
        let mut conn = Connection::open_in_memory().unwrap();
        for step in &STEPS[..5] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let open = "INSERT INTO incidents (tenant_id, check_name, status, severity, error, count, dedup_hash, opened_at)
                    VALUES (1, 'api', 'open', 'error', 'down', 1, 'h', 0)";
        conn.execute(open, []).unwrap();
        conn.execute(
            "INSERT INTO results (tenant_id, check_name, started_at, up, latency_ms, detail) VALUES (1, 'api', 0, 1, 1.0, '{}')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let kind: String = conn
            .query_row("SELECT kind FROM incidents", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "down");
        let kept: bool = conn
            .query_row("SELECT kept FROM results", [], |r| r.get(0))
            .unwrap();
        assert!(
            kept,
            "results from before are kept for the longer retention"
        );
        assert!(
            conn.execute(open, []).is_err(),
            "a second open `down` incident"
        );
        conn.execute(
            "INSERT INTO incidents (tenant_id, check_name, status, severity, error, count, dedup_hash, opened_at, kind)
             VALUES (1, 'api', 'open', 'error', 'burn', 1, 'h', 0, 'slo_burn')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn checks_keep_only_their_own_types_http_settings() {
        let mut conn = Connection::open_in_memory().unwrap();
        for step in &STEPS[..4] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', 0)",
            [],
        )
        .unwrap();
        let http = r#"{"method":"GET","max_body":1048576,"follow_redirects":true}"#;
        for ty in ["http", "tcp", "grpc", "graphql"] {
            let spec = format!(r#"{{"kind":"Check","name":"{ty}","type":"{ty}","http":{http}}}"#);
            conn.execute(
                "INSERT INTO resources (tenant_id, kind, name, spec, updated_at) VALUES (1, 'Check', ?1, ?2, 0)",
                [ty, &spec],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let spec = |name: &str| stored_spec(&conn, name);
        let defaults: serde_json::Value = serde_json::from_str(http).unwrap();
        assert_eq!(spec("http")["http"], defaults);
        assert_eq!(spec("tcp").get("http"), None);
        assert_eq!(spec("grpc").get("http"), None);
        assert_eq!(
            spec("graphql")["http"],
            serde_json::json!({"max_body": 1048576, "follow_redirects": true})
        );
    }

    #[test]
    fn checks_paused_before_the_pause_moment_was_kept_count_as_paused_since_the_epoch() {
        let mut conn = Connection::open_in_memory().unwrap();
        for step in &STEPS[..6] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        for (name, paused) in [("held", 1), ("running", 0)] {
            conn.execute(
                "INSERT INTO check_state (tenant_id, name, paused) VALUES (1, ?1, ?2)",
                rusqlite::params![name, paused],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let paused_at = |name: &str| -> Option<i64> {
            conn.query_row(
                "SELECT paused_at FROM check_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!((paused_at("held"), paused_at("running")), (Some(0), None));
    }

    #[test]
    fn insecure_moves_into_the_tls_settings() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(STEPS[0]).unwrap();
        conn.execute_batch(STEPS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', 0)",
            [],
        )
        .unwrap();
        for (name, spec) in [
            (
                "a",
                r#"{"kind":"Check","name":"a","tcp":{"tls":true,"insecure":true,"max_bytes":9}}"#,
            ),
            (
                "b",
                r#"{"kind":"Check","name":"b","tcp":{"tls":false,"insecure":true}}"#,
            ),
            (
                "c",
                r#"{"kind":"Check","name":"c","grpc":{"health":true,"tls":true,"insecure":true}}"#,
            ),
            ("d", r#"{"kind":"Check","name":"d","tcp":{"tls":true}}"#),
        ] {
            conn.execute(
                "INSERT INTO resources (tenant_id, kind, name, spec, updated_at) VALUES (1, 'Check', ?1, ?2, 0)",
                [name, spec],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let spec = |name: &str| stored_spec(&conn, name);
        assert_eq!(
            spec("a")["tcp"],
            serde_json::json!({"tls": {"insecure": true}, "max_bytes": 9})
        );
        assert_eq!(spec("b")["tcp"], serde_json::json!({"tls": false}));
        assert_eq!(
            spec("c")["grpc"],
            serde_json::json!({"health": true, "tls": {"insecure": true}})
        );
        assert_eq!(spec("d")["tcp"], serde_json::json!({"tls": true}));
    }

    /// Rebuilding `series` for its per-location key keeps every id and never
    /// hands out again one a deleted check had.
    #[test]
    fn series_keep_their_ids_and_the_highest_ever_given_across_the_rebuild() {
        let mut conn = Connection::open_in_memory().unwrap();
        for step in &STEPS[..9] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 9).unwrap();
        for name in ["a", "b", "c"] {
            conn.execute(
                "INSERT INTO series (tenant_id, check_name) VALUES (1, ?1)",
                [name],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM series WHERE check_name = 'c'", [])
            .unwrap();
        migrate(&mut conn).unwrap();
        let ids: Vec<(i64, String, String)> = conn
            .prepare("SELECT id, check_name, location FROM series ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            ids,
            [
                (1, "a".into(), String::new()),
                (2, "b".into(), String::new())
            ]
        );
        let next: i64 = conn
            .query_row(
                "INSERT INTO series (tenant_id, check_name, location) VALUES (1, 'a', 'eu') RETURNING id",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(next, 4, "3 went with the deleted check");
        assert!(
            conn.execute(
                "INSERT INTO series (tenant_id, check_name, location) VALUES (1, 'a', 'eu')",
                []
            )
            .is_err(),
            "one series per check and location"
        );
    }

    /// PostgreSQL's schema has the tables, columns and indexes SQLite's has, so
    /// that one statement means the same on both; a step added to one and not the
    /// other fails here.
    #[test]
    fn both_schemas_have_the_same_tables_columns_and_indexes() {
        use std::collections::BTreeSet;
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let lite = super::super::Db::lite(&conn);
        let lite_columns: BTreeSet<(String, String)> = lite
            .query_map(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name != 'sqlite_sequence'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
            .into_iter()
            .collect();
        let lite_indexes: BTreeSet<String> = lite
            .query_map(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
                [],
                |r| r.get(0),
            )
            .unwrap()
            .into_iter()
            .collect();

        let url = super::super::test_postgres::fresh_database();
        let client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut pg = super::super::sql::PgConn::new(client);
        migrate_postgres(&mut pg).unwrap();
        // A second run finds the schema current and changes nothing.
        migrate_postgres(&mut pg).unwrap();
        let db = super::super::Db::pg(&mut pg);
        let mut pg_columns: BTreeSet<(String, String)> = db
            .query_map(
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name != 'schema_version'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
            .into_iter()
            .collect();
        // SQLite's implicit row id, which PostgreSQL's sessions carry as a column.
        assert!(pg_columns.remove(&("sessions".to_string(), "rowid".to_string())));
        assert_eq!(pg_columns, lite_columns);
        let pg_indexes: BTreeSet<String> = db
            .query_map(
                "SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE schemaname = 'public'
                 AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'",
                [],
                |r| r.get(0),
            )
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(pg_indexes, lite_indexes);
        let version: i64 = db
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, PG_STEPS.len() as i64);
    }
}
