-- 0002: paired rooms and the device certificates revoked by unpairing. Times are unix
-- nanoseconds, UTC; NULL means "never".

CREATE TABLE rooms (
	id                   TEXT    PRIMARY KEY,
	name                 TEXT    NOT NULL,
	cert_serial          TEXT    NOT NULL, -- hex serial of the room's current client certificate
	prev_serial          TEXT    NOT NULL DEFAULT '', -- the one before a renewal, until the new one is seen
	cert_not_after       INTEGER,
	model                TEXT    NOT NULL DEFAULT '',
	hw_serial            TEXT    NOT NULL DEFAULT '',
	hostname             TEXT    NOT NULL DEFAULT '',
	firmware             TEXT    NOT NULL DEFAULT '',
	bundle_version       INTEGER NOT NULL DEFAULT 0, -- the bundle version the room acknowledged
	last_seen            INTEGER,
	portal_https_trusted INTEGER NOT NULL DEFAULT 0,
	portal_https_error   TEXT    NOT NULL DEFAULT '',
	created_at           INTEGER NOT NULL
);

CREATE TABLE revoked_serials (
	serial     TEXT    PRIMARY KEY,
	room_id    TEXT    NOT NULL,
	revoked_at INTEGER NOT NULL
);
