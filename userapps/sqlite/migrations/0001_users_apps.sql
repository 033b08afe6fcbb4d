-- Users and apps. Times are microseconds since the Unix epoch (UTC), so the
-- schema ports to PostgreSQL (BIGINT) unchanged.
CREATE TABLE users (
	name       TEXT PRIMARY KEY,
	role       TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
	token_hash TEXT UNIQUE, -- hex SHA-256 of the API token; NULL when none
	created_us BIGINT NOT NULL
);

CREATE TABLE apps (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	owner            TEXT NOT NULL REFERENCES users (name) ON DELETE RESTRICT,
	notebook         TEXT NOT NULL UNIQUE,
	state            TEXT NOT NULL CHECK (state IN ('stopped', 'starting', 'running', 'running+checkpointed', 'stopping', 'failed')),
	error            TEXT NOT NULL DEFAULT '',
	kernel_id        TEXT NOT NULL DEFAULT '',
	checkpoint_id    TEXT NOT NULL DEFAULT '', -- '' when there is no restore point
	checkpoint_us    BIGINT NOT NULL DEFAULT 0,
	created_us       BIGINT NOT NULL,
	updated_us       BIGINT NOT NULL,
	state_changed_us BIGINT NOT NULL,
	UNIQUE (owner, name)
);

CREATE INDEX apps_state ON apps (state);
