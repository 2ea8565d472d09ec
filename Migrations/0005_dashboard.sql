-- The owner's dashboard (issue 26).
-- A job the server was running when it stopped is marked interrupted at its next start: nothing
-- it wrote is reported as done.
ALTER TYPE control_plane.backup_status ADD VALUE IF NOT EXISTS 'interrupted';
-- The owner's actions that store nothing of their own (a login, a cancel, a verify, a deletion)
-- are audit rows: who, when, what, from where.
ALTER TYPE control_plane.backup_type ADD VALUE IF NOT EXISTS 'audit';
-- Database sizes sampled every [dashboard] sample_minutes and by walvault check, for the growth
-- chart and the forecast.
CREATE TABLE control_plane.database_sizes (
    project_id    text NOT NULL,
    sampled_at    timestamptz NOT NULL,
    bytes         bigint NOT NULL,
    tables        integer NOT NULL,
    row_estimate  bigint NOT NULL,
    PRIMARY KEY (project_id, sampled_at)
);
