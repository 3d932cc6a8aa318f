-- Keyset pages of the Environments list and the API: each sort's key with
-- the id that breaks its ties, so a page starts by an index seek.
CREATE INDEX environments_created_id ON environments (created_at, id);
CREATE INDEX environments_name_id ON environments (name, id);
-- New preview's default: the viewer's latest environment's app.
CREATE INDEX environments_owner_created ON environments (owner_id, created_at);
