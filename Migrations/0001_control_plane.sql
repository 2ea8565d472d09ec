-- walvault control plane: the history of every backup, WAL push, restore and failure.
CREATE SCHEMA IF NOT EXISTS control_plane;

CREATE TYPE control_plane.backup_type AS ENUM ('database', 'storage', 'logs', 'wal');
CREATE TYPE control_plane.backup_status AS ENUM ('succeeded', 'failed');

CREATE TABLE control_plane.backups (
    id                bigserial PRIMARY KEY,
    -- Written by walvault before the first attempt; replaying the local journal inserts each
    -- record once whatever happened between the insert and the journal's truncation.
    record_id         uuid NOT NULL UNIQUE,
    project_id        text NOT NULL,
    type              control_plane.backup_type NOT NULL,
    operation         text NOT NULL,            -- archive-push, backup, restore
    status            control_plane.backup_status NOT NULL,
    file_id           text,                     -- the store's handle: local path, S3 key, Telegram file_id
    store_name        text,
    object_name       text,                     -- WAL file name or backup label
    size              bigint,                   -- original bytes
    stored_size       bigint,                   -- bytes in the store
    sha256            text,
    cluster_name      text,
    system_identifier text,
    timeline          integer,
    start_lsn         pg_lsn,
    stop_lsn          pg_lsn,
    error             text,
    duration_ms       bigint,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz
);

CREATE INDEX backups_project_created ON control_plane.backups (project_id, created_at);
CREATE INDEX backups_project_type_created ON control_plane.backups (project_id, type, created_at);
CREATE INDEX backups_expires ON control_plane.backups (expires_at) WHERE expires_at IS NOT NULL;
