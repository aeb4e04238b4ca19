-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_actor ON audit_log (actor);
ALTER TABLE audit_log RENAME COLUMN at TO happened_at;
ALTER TABLE audit_log SET SCHEMA archive;

-- migrate:down
DROP INDEX audit_log_actor;
