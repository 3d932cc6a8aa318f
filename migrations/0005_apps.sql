-- Apps become real: registered in the browser, the API or the config file,
-- built from a git repository's default branch (or any branch or pull
-- request). Secrets are stored encrypted (JSON: name -> sealed value), apart
-- from the blueprint, and never read back out to anyone.
ALTER TABLE apps ADD COLUMN default_branch TEXT NOT NULL DEFAULT 'main';
ALTER TABLE apps ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
-- 1 while a `[[app]]` table of the configuration owns the app: read-only elsewhere.
ALTER TABLE apps ADD COLUMN managed_by_config BIGINT NOT NULL DEFAULT 0 CHECK (managed_by_config IN (0, 1));
-- Archived apps take no new environments; the running ones live out their TTL.
ALTER TABLE apps ADD COLUMN archived_at BIGINT;
ALTER TABLE apps ADD COLUMN updated_at BIGINT;
-- Bumped by "Rebuild template": part of the template database's key, so the
-- next environment builds a fresh one.
ALTER TABLE apps ADD COLUMN template_generation BIGINT NOT NULL DEFAULT 0;
