-- The warehouse schema as hubspot_sync.warehouse created it before Alembic
-- (Warehouse.create_schema -> MetaData.create_all, commit b3399fe), sqlite.
-- Frozen: the migration tests start from it. Never edit.
CREATE TABLE sync_runs (
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	started_at DATETIME NOT NULL,
	finished_at DATETIME,
	status VARCHAR(16) NOT NULL,
	window_start DATETIME,
	window_end DATETIME,
	full_refresh BOOLEAN NOT NULL,
	dry_run BOOLEAN NOT NULL,
	extracted INTEGER NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	unchanged INTEGER NOT NULL,
	skipped INTEGER NOT NULL,
	rejected INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	api_calls INTEGER NOT NULL,
	details JSON,
	PRIMARY KEY (entity, run_id)
);

CREATE INDEX ix_sync_runs_started ON sync_runs (started_at);

CREATE INDEX ix_sync_runs_entity_status_end ON sync_runs (entity, status, window_end);

CREATE TABLE source_snapshot (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	source_id VARCHAR(255),
	changed_at DATETIME,
	properties JSON,
	links JSON,
	skip_reason TEXT,
	problems JSON,
	raw JSON,
	PRIMARY KEY (id)
);

CREATE INDEX ix_source_snapshot_entity_run ON source_snapshot (entity, run_id);

CREATE TABLE hubspot_snapshot (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	source_id VARCHAR(255),
	hubspot_id VARCHAR(255),
	matched_by VARCHAR(255),
	properties JSON,
	PRIMARY KEY (id)
);

CREATE INDEX ix_hubspot_snapshot_entity_run ON hubspot_snapshot (entity, run_id);

CREATE TABLE delta (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	source_id VARCHAR(255),
	hubspot_id VARCHAR(255),
	action VARCHAR(16) NOT NULL,
	changed_fields JSON,
	"before" JSON,
	"after" JSON,
	reason TEXT,
	matched_by VARCHAR(255),
	changed_at DATETIME,
	PRIMARY KEY (id)
);

CREATE INDEX ix_delta_entity_run ON delta (entity, run_id);

CREATE TABLE rejects (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	first_run_id VARCHAR(255) NOT NULL,
	source_id VARCHAR(255),
	rule VARCHAR(255) NOT NULL,
	property VARCHAR(255),
	value TEXT,
	reason TEXT,
	source VARCHAR(16) NOT NULL,
	category VARCHAR(255),
	times_seen INTEGER NOT NULL,
	first_seen_at DATETIME NOT NULL,
	last_seen_at DATETIME NOT NULL,
	resolved_at DATETIME,
	resolved_run_id VARCHAR(255),
	PRIMARY KEY (id)
);

CREATE INDEX ix_rejects_entity_run ON rejects (entity, run_id);

CREATE INDEX ix_rejects_entity_resolved ON rejects (entity, resolved_at);

CREATE INDEX ix_rejects_entity_source ON rejects (entity, source_id);

CREATE TABLE reject_events (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	reject_id INTEGER NOT NULL,
	value TEXT,
	reason TEXT,
	seen_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_reject_events_entity_run ON reject_events (entity, run_id);

CREATE TABLE id_map (
	entity VARCHAR(255) NOT NULL,
	source_id VARCHAR(255) NOT NULL,
	hubspot_id VARCHAR(255) NOT NULL,
	hubspot_object VARCHAR(255) NOT NULL,
	first_synced_run VARCHAR(255),
	last_synced_run VARCHAR(255),
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (entity, source_id)
);

CREATE INDEX ix_id_map_entity_hubspot ON id_map (entity, hubspot_id);

CREATE TABLE load_outcomes (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	run_id VARCHAR(255) NOT NULL,
	source_id VARCHAR(255),
	hubspot_id VARCHAR(255),
	action VARCHAR(16),
	status VARCHAR(16) NOT NULL,
	category VARCHAR(255),
	message TEXT,
	PRIMARY KEY (id)
);

CREATE INDEX ix_load_outcomes_entity_run ON load_outcomes (entity, run_id);

CREATE TABLE pending_associations (
	id INTEGER NOT NULL,
	entity VARCHAR(255) NOT NULL,
	source_id VARCHAR(255) NOT NULL,
	to_entity VARCHAR(255) NOT NULL,
	to_source_id VARCHAR(255) NOT NULL,
	type_id INTEGER,
	first_seen_run VARCHAR(255) NOT NULL,
	last_tried_run VARCHAR(255) NOT NULL,
	reason TEXT,
	attempts INTEGER NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_pending_associations_entity ON pending_associations (entity, source_id);
