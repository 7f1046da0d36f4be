//! The schema of a PostgreSQL index: the pgvector extension, migrations applied once each under
//! the schema's advisory lock, the stored fingerprint and dimension.

use postgres::Client;

use super::super::pgconn::PgTarget;
use super::{query_error, scalar, Fingerprint};
use crate::error::Result;

/// Schema migrations, applied once each, in order, under the schema's advisory lock.
/// `{s}` is the schema, `{dim}` the model's dimension.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "documents, passages with their vectors, model fingerprint",
        "CREATE TABLE {s}.meta(key text PRIMARY KEY, value text NOT NULL);
     CREATE TABLE {s}.documents(key text PRIMARY KEY, path text NOT NULL);
     CREATE TABLE {s}.passages(
         rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id text NOT NULL UNIQUE,
         document text NOT NULL REFERENCES {s}.documents(key) ON DELETE CASCADE,
         article text NOT NULL,
         paragraph integer NOT NULL,
         title text NOT NULL,
         span_start bigint NOT NULL,
         span_end bigint NOT NULL,
         hash text NOT NULL,
         text text NOT NULL,
         embedding vector({dim}) NOT NULL);
     CREATE INDEX passages_hash ON {s}.passages(hash);
     CREATE INDEX passages_document ON {s}.passages(document);
     INSERT INTO {s}.meta VALUES ('generation', '0');
     INSERT INTO {s}.meta VALUES ('instance', md5(random()::text || clock_timestamp()::text));",
    ),
    (
        2,
        "passages' heading path (section) and article metadata (meta)",
        // A constant default: no table rewrite, existing passages kept (their metadata comes
        // when their files are indexed again).
        "ALTER TABLE {s}.passages ADD COLUMN section text,
             ADD COLUMN meta jsonb NOT NULL DEFAULT '{}'::jsonb;",
    ),
];

/// Serialise writers of one schema (held until the transaction ends).
pub(super) fn lock(target: &PgTarget, tx: &mut postgres::Transaction<'_>) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("semclust:{}", target.schema())],
    )
    .map_err(|e| query_error(target, e))?;
    Ok(())
}

pub(super) fn read_fingerprint(
    target: &PgTarget,
    client: &mut Client,
) -> Result<Option<Fingerprint>> {
    let s = target.schema();
    let row = client
        .query_opt(
            &format!("SELECT value FROM {s}.meta WHERE key = 'fingerprint'"),
            &[],
        )
        .map_err(|e| query_error(target, e))?;
    row.map(|r| {
        let v: String = r.get(0);
        serde_json::from_str(&v).map_err(|e| {
            target.error(format!(
                "schema \"{s}\" has a damaged model fingerprint ({e}): drop the schema and index again"
            ))
        })
    })
    .transpose()
}

/// The `vector` column's declared dimension must be the model's: a table made for another model
/// (or by hand) is refused before anything is written.
pub(super) fn check_dimension(target: &PgTarget, client: &mut Client, dim: usize) -> Result<()> {
    let s = target.schema();
    let row = client
        .query_opt(
            "SELECT a.atttypmod FROM pg_attribute a
             WHERE a.attrelid = to_regclass($1) AND a.attname = 'embedding' AND NOT a.attisdropped",
            &[&format!("{s}.passages")],
        )
        .map_err(|e| query_error(target, e))?;
    if let Some(r) = row {
        let have: i32 = r.get(0);
        if have != dim as i32 {
            return Err(target.error(format!(
                "schema \"{s}\" stores {have}-d vectors, the model gives {dim}-d: use another schema (?schema=NAME in the URL) or the model the index was built with"
            )));
        }
    }
    Ok(())
}

pub(super) fn ensure_vector_extension(target: &PgTarget, client: &mut Client) -> Result<()> {
    let installed: bool = scalar(
        client,
        target,
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')",
        &[],
    )?;
    if installed {
        return Ok(());
    }
    let available: bool = scalar(
        client,
        target,
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')",
        &[],
    )?;
    if !available {
        return Err(target.error(
            "the server has no pgvector extension: install pgvector (https://github.com/pgvector/pgvector) on it, or use a managed PostgreSQL that offers it",
        ));
    }
    // CREATE EXTENSION IF NOT EXISTS is not safe against itself: two first runs started together
    // both pass the check and one fails on pg_extension's unique index. A database-wide advisory
    // lock serialises them, and a unique violation still means somebody else installed it.
    let created = client.transaction().and_then(|mut tx| {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('semclust:create-extension'))",
            &[],
        )?;
        tx.batch_execute("CREATE EXTENSION IF NOT EXISTS vector")?;
        tx.commit()
    });
    match created {
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(()),
        other => other.map_err(|e| {
            if e.as_db_error().is_none() {
                return query_error(target, e);
            }
            target.error(format!(
                "the database has no `vector` extension and user \"{}\" may not create it ({}): ask an administrator to run CREATE EXTENSION vector; in database \"{}\"",
                target.user(),
                e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string()),
                target.database()
            ))
        }),
    }
}

/// Whether every migration this semclust knows has been applied.
pub(super) fn is_current(target: &PgTarget, client: &mut Client) -> Result<bool> {
    let sql = format!("SELECT count(*) FROM {}.migrations", target.schema());
    let applied: i64 = scalar(client, target, &sql, &[])?;
    Ok(applied >= MIGRATIONS.len() as i64)
}

/// Create the schema and bring it to the newest version. Every migration runs once: the
/// versions applied are recorded, and concurrent runs wait on the schema's advisory lock.
pub(super) fn migrate(target: &PgTarget, client: &mut Client, fp: &Fingerprint) -> Result<()> {
    let s = target.schema();
    let e = |err: postgres::Error| query_error(target, err);
    let mut tx = client.transaction().map_err(e)?;
    lock(target, &mut tx)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.migrations(
             version integer PRIMARY KEY, description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());"
    ))
    .map_err(e)?;
    let done: Vec<i32> = tx
        .query(&format!("SELECT version FROM {s}.migrations"), &[])
        .map_err(e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(newer) = done.iter().find(|v| **v > MIGRATIONS.len() as i32) {
        return Err(target.error(format!(
            "schema \"{s}\" is at version {newer}, this semclust knows up to {}: upgrade semclust",
            MIGRATIONS.len()
        )));
    }
    for (version, description, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let sql = sql
            .replace("{s}", s)
            .replace("{dim}", &fp.dimension.to_string());
        tx.batch_execute(&sql).map_err(e)?;
        tx.execute(
            &format!("INSERT INTO {s}.migrations(version, description) VALUES ($1, $2)"),
            &[version, description],
        )
        .map_err(e)?;
    }
    let json = serde_json::to_string(fp).map_err(|err| target.error(err.to_string()))?;
    tx.execute(
        &format!("INSERT INTO {s}.meta VALUES ('fingerprint', $1) ON CONFLICT (key) DO NOTHING"),
        &[&json],
    )
    .map_err(e)?;
    tx.commit().map_err(e)?;
    Ok(())
}
