-- Observed runtime facts of a resource as its driver recorded them (JSON:
-- process id, port, paths), so a restarted portal can find, probe and clean
-- up what it made.
ALTER TABLE resources ADD COLUMN detail TEXT NOT NULL DEFAULT '{}';

-- Which replica holds a job, and until when: others take it over once the
-- lease lapses (heartbeats extend it).
CREATE INDEX jobs_environment ON jobs (environment_id) WHERE finished_at IS NULL;
