-- 0004: the Secured option (Super Admin → Security). One row once it was first changed; no
-- row means off. Times are unix nanoseconds, UTC.

CREATE TABLE secured_option (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	changed_by TEXT    NOT NULL,
	changed_at INTEGER NOT NULL
);
