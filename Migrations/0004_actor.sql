-- Who did it, from where, and why it failed: the audit trail seed 003 asks for, and the stable
-- error code of every failed row (the text may change between versions; the code does not).
ALTER TABLE control_plane.backups
    ADD COLUMN actor      text,   -- the OS user who ran walvault ("root (sudo from alice)"); later the owner or a JWT subject
    ADD COLUMN origin     text,   -- "cli" for a command; later the HTTP server and the client's address
    ADD COLUMN error_code text;   -- a failed row's stable code, e.g. store.transient, postgres.unreachable, drill.failed
