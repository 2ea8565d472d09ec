-- walvault expire: when each object left its store. NULL while it is there; expires_at says when
-- it is due to go under [retention], and walvault expire moves it when a newer backup keeps it.
ALTER TABLE control_plane.backups ADD COLUMN expired_at timestamptz;

-- What expire looks up: the rows of one object in one store that are not marked yet.
CREATE INDEX backups_unexpired ON control_plane.backups (project_id, store_name, object_name) WHERE expired_at IS NULL;
