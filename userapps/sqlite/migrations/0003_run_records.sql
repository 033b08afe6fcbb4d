-- What the scheduler needs beyond the tables of 0002: which runs of a
-- schedule send notices; for each run its owner (it runs as the app's
-- owner), trigger, parameters, the server process running it and that
-- process's last heartbeat (a running run whose heartbeat stopped lost its
-- server). A tick of a schedule makes at most one run: the unique index
-- refuses a second one, whichever process tries (backfills may repeat hours).
ALTER TABLE schedules ADD COLUMN notify TEXT NOT NULL DEFAULT 'failure';

ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN run_trigger TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE runs ADD COLUMN parameters TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN worker TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat_us BIGINT NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX runs_schedule_tick ON runs (schedule_id, scheduled_us, run_trigger)
	WHERE run_trigger IN ('schedule', 'catch-up');
CREATE INDEX runs_status ON runs (status, created_us);
CREATE INDEX runs_app_created ON runs (app_id, created_us);
