-- 0001: the portal's initial schema. Times are unix nanoseconds, UTC; NULL means "never".

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	name          TEXT    NOT NULL UNIQUE,
	role          TEXT    NOT NULL CHECK (role IN ('superadmin', 'admin', 'user')),
	password_hash TEXT    NOT NULL,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER,
	created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
	id         TEXT    PRIMARY KEY, -- SHA-256 hex of the cookie value, never the value itself
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE audit (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL,
	actor  TEXT    NOT NULL,
	action TEXT    NOT NULL,
	detail TEXT    NOT NULL,
	remote TEXT    NOT NULL
);

CREATE TABLE certs (
	slot         TEXT PRIMARY KEY,
	cert_pem     BLOB NOT NULL,
	key_pem      BLOB NOT NULL,
	source       TEXT NOT NULL,
	activated_at INTEGER
);

-- At most one pending key: the CHECK pins the only row to id 1.
CREATE TABLE pending_key (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	key_pem    BLOB    NOT NULL,
	algorithm  TEXT    NOT NULL,
	csr_pem    BLOB,
	created_at INTEGER NOT NULL
);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

CREATE TABLE join_tokens (
	hash       TEXT    PRIMARY KEY, -- SHA-256 hex of the token
	kind       TEXT    NOT NULL,
	fqdn       TEXT    NOT NULL,
	created_by TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
);

-- One component of a kind per FQDN; a manager, router and proxy may share one host.
CREATE TABLE components (
	id             TEXT PRIMARY KEY,
	kind           TEXT NOT NULL,
	fqdn           TEXT NOT NULL,
	address        TEXT NOT NULL,
	version        TEXT NOT NULL,
	cert_pem       BLOB,
	cert_not_after INTEGER,
	last_heartbeat INTEGER,
	joined_at      INTEGER NOT NULL,
	UNIQUE (kind, fqdn)
);
