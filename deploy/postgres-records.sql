-- SignService records service (issue 18): the database and its two roles on an existing PostgreSQL server, with
-- least privilege. Run once by the database administrator, as a superuser or a role with CREATEROLE and CREATEDB,
-- over TLS:
--
--   psql "host=db.records.example.gov.in dbname=postgres user=postgres sslmode=verify-full sslrootcert=root.crt" \
--     -v ON_ERROR_STOP=1 -f deploy/postgres-records.sql
--
-- then give each role its password interactively (psql hashes it with SCRAM on the client; it never appears in the
-- server log or in a shell history):
--
--   \password signservice_owner
--   \password signservice
--
-- Roles:
--   signservice_owner  owns database signservice and its schema; the migrations run as this role
--                      (records.json "postgres.migrationURL"). It owns what it creates, and nothing else.
--   signservice        the running service (records.json "postgres.url"): CONNECT, USAGE on schema public, and
--                      SELECT/INSERT/UPDATE/DELETE on tables and USAGE/SELECT on sequences, including those the owner
--                      creates later. It cannot create, alter or drop anything, nor make temporary tables.
-- The statements are safe to run again (roles and database are made only when missing; grants repeat).
--
-- TLS is required of every connection to this database. postgresql.conf:
--   ssl = on
--   ssl_cert_file = '/etc/postgresql/tls/server.crt'      -- the name the service's URL uses (verify-full checks it)
--   ssl_key_file = '/etc/postgresql/tls/server.key'
--   ssl_min_protocol_version = 'TLSv1.2'
--   password_encryption = 'scram-sha-256'
-- pg_hba.conf, above any broader line (the first matching line decides); the addresses are the records service
-- instances' (here 10.20.0.0/24), the migration host's, and nothing else:
--   # TYPE     DATABASE     USER                           ADDRESS         METHOD
--   hostssl    signservice  signservice,signservice_owner  10.20.0.0/24    scram-sha-256
--   hostnossl  signservice  all                            0.0.0.0/0       reject
--   hostnossl  signservice  all                            ::/0            reject
-- then reload: SELECT pg_reload_conf();
--
-- Backups: pg_basebackup with WAL archiving (or the server's existing backup system) covers the histories and, when
-- blobs are stored in PostgreSQL, the extracts and scans. A dump (pg_dump -Fc signservice) is consistent too; restore
-- it as signservice_owner so that ownership and the default privileges below come back the same.

SET password_encryption = 'scram-sha-256';

SELECT 'CREATE ROLE signservice_owner LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'signservice_owner') \gexec
SELECT 'CREATE ROLE signservice LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'signservice') \gexec

-- No superuser, no role or database creation, no replication, row security applies; each role has only its own
-- privileges (NOINHERIT: a membership granted later by mistake does not pass privileges on silently).
ALTER ROLE signservice_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
  CONNECTION LIMIT 5;
-- Each instance keeps a pool; 200 covers several instances. Raise it with the number of instances.
ALTER ROLE signservice LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
  CONNECTION LIMIT 200;

SELECT 'CREATE DATABASE signservice OWNER signservice_owner ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'signservice') \gexec

-- Nobody but the two roles connects (PUBLIC loses CONNECT and TEMPORARY).
REVOKE ALL ON DATABASE signservice FROM PUBLIC;
GRANT CONNECT ON DATABASE signservice TO signservice;

\connect signservice

-- The owner owns the schema; PUBLIC loses CREATE (granted by default before PostgreSQL 15) and USAGE.
ALTER SCHEMA public OWNER TO signservice_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO signservice;

-- What the owner creates later (the migrations) is open to the runtime role for reading and writing rows only.
ALTER DEFAULT PRIVILEGES FOR ROLE signservice_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO signservice;
ALTER DEFAULT PRIVILEGES FOR ROLE signservice_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO signservice;
-- And what exists already (running this file again after migrations).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO signservice;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO signservice;

-- A transaction left open by a hung instance would hold a file's append lock: the server ends it after a minute.
ALTER ROLE signservice IN DATABASE signservice SET idle_in_transaction_session_timeout = '60s';
