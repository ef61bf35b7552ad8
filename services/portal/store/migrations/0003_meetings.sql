-- 0003: meetings and a room's default meeting. Times are unix nanoseconds, UTC.

CREATE TABLE meetings (
	id         TEXT    PRIMARY KEY, -- ten random digits, shown "123 456 7890"
	name       TEXT    NOT NULL,
	pin_hash   TEXT    NOT NULL DEFAULT '', -- argon2id PHC string; '' means no PIN
	owner_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL
);
CREATE INDEX meetings_owner ON meetings(owner_id);

-- The meeting a room joins from its touch panel's "Join" button; deleting the meeting clears it.
ALTER TABLE rooms ADD COLUMN default_meeting TEXT REFERENCES meetings(id) ON DELETE SET NULL;
