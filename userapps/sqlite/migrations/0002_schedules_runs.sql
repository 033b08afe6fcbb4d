-- Schedules and runs, used from the scheduling issue on. They are created
-- now so that issue adds columns with a new migration instead of reshaping
-- the first one. Deleting an app deletes its schedules and runs.
CREATE TABLE schedules (
	id             TEXT PRIMARY KEY,
	app_id         TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	spec           TEXT NOT NULL,                   -- cron: 5 fields or @hourly style
	time_zone      TEXT NOT NULL DEFAULT 'UTC',     -- IANA name
	enabled        INTEGER NOT NULL DEFAULT 1,
	parameters     TEXT NOT NULL DEFAULT '{}',      -- JSON object for the parameters cell
	overlap        TEXT NOT NULL DEFAULT 'skip',    -- what to do when the previous run is still going
	missed         TEXT NOT NULL DEFAULT 'skip',    -- what to do with runs missed while down
	cell_timeout_ms BIGINT NOT NULL DEFAULT 0,       -- 0: no limit
	run_timeout_ms  BIGINT NOT NULL DEFAULT 0,
	alert_tap      TEXT NOT NULL DEFAULT '',        -- tap told about failed runs; '' for none
	next_run_us    BIGINT NOT NULL DEFAULT 0,
	created_us     BIGINT NOT NULL,
	updated_us     BIGINT NOT NULL
);

CREATE INDEX schedules_app ON schedules (app_id);

CREATE TABLE runs (
	id           TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	schedule_id  TEXT REFERENCES schedules (id) ON DELETE SET NULL, -- NULL for a manual run
	status       TEXT NOT NULL,                  -- queued, running, succeeded, failed, timed-out, skipped
	scheduled_us BIGINT NOT NULL DEFAULT 0,
	started_us   BIGINT NOT NULL DEFAULT 0,
	finished_us  BIGINT NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT '',
	output       TEXT NOT NULL DEFAULT '',       -- path of the executed notebook
	created_us   BIGINT NOT NULL
);

CREATE INDEX runs_app_started ON runs (app_id, started_us);
