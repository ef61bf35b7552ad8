-- 0005: A/B update bundles the portal offers to rooms (issue 6), what each room reports about
-- its system, and each room's update target. Times are unix nanoseconds, UTC.

-- One row per uploaded bundle; the file is <data>/updates/<board>-<version>.bundle. The manifest
-- and its signature are kept so that starting an update can verify the signature against the
-- room's own update key without reading the file.
CREATE TABLE update_bundles (
	board       TEXT    NOT NULL,
	version     TEXT    NOT NULL,
	size        INTEGER NOT NULL,
	sha256      TEXT    NOT NULL, -- of the whole bundle file, lower-case hex
	manifest    BLOB    NOT NULL, -- manifest.json's exact bytes
	signature   BLOB    NOT NULL, -- manifest.sig
	uploaded_at INTEGER NOT NULL,
	uploaded_by TEXT    NOT NULL,
	PRIMARY KEY (board, version)
);

-- The image system a room reported at its latest poll; no row: the room is not on the image.
CREATE TABLE room_systems (
	room_id     TEXT    PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
	board       TEXT    NOT NULL,
	slot        TEXT    NOT NULL,
	version     TEXT    NOT NULL,
	on_trial    INTEGER NOT NULL DEFAULT 0,
	update_key  TEXT    NOT NULL,
	reported_at INTEGER NOT NULL
);

-- The latest update started for a room and its progress. States: offered, downloading,
-- rebooting (the offer stands), done, failed (it no longer does).
CREATE TABLE room_updates (
	room_id    TEXT    PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
	board      TEXT    NOT NULL,
	version    TEXT    NOT NULL,
	state      TEXT    NOT NULL CHECK (state IN ('offered', 'downloading', 'rebooting', 'done', 'failed')),
	bytes      INTEGER NOT NULL DEFAULT 0,
	total      INTEGER NOT NULL DEFAULT 0,
	error      TEXT    NOT NULL DEFAULT '',
	started_by TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	changed_at INTEGER NOT NULL
);
