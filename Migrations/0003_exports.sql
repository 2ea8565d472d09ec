-- walvault dump and walvault export-logs: what a logical export was of, and how many rows.
ALTER TABLE control_plane.backups
    ADD COLUMN schema_name  text,         -- the schema a dump holds
    ADD COLUMN row_count    bigint,       -- rows an export-logs object holds
    ADD COLUMN range_start  timestamptz,  -- export-logs: the rows' time range, start included
    ADD COLUMN range_end    timestamptz,  -- and end excluded
    ADD COLUMN rows_deleted bigint;       -- rows --delete-exported removed after the export was durable
