-- The dashboard's own tables: the admin accounts, their browser sessions, and the OAuth round trips started from
-- a session. Session ids and OAuth states are stored as SHA-256 hashes: a copy of the store does not hand out
-- live sessions. (Numbered 006: 005 is reserved for a migration of the flows being written alongside.)

CREATE TABLE admin_users (
  id text PRIMARY KEY,
  username text NOT NULL UNIQUE,
  -- scrypt$N$r$p$salt$hash (base64url), see src/server/auth.ts
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);

CREATE TABLE sessions (
  id_hash text PRIMARY KEY,
  user_id text NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- An OAuth round trip in flight: the state sent to the provider, bound to the session that started it, with
-- what to do on return (which connection, which side). Single use; a callback whose state is unknown, expired or
-- started by another session is refused.
CREATE TABLE oauth_states (
  state_hash text PRIMARY KEY,
  session_hash text NOT NULL REFERENCES sessions(id_hash) ON DELETE CASCADE,
  provider text NOT NULL,
  connection_id text REFERENCES connections(id) ON DELETE CASCADE,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  expires_at timestamptz NOT NULL
);
