-- The table bearerbox keeps pending DLRs in (dlr-storage = sqlite3; see kannel.conf's dlr-db group).
-- Kannel does not create it:  sqlite3 "$KANNEL_DIR/dlr.sqlite3" < deploy/kannel/dlr.sql
CREATE TABLE IF NOT EXISTS dlr (
    smsc TEXT,
    ts TEXT,
    destination TEXT,
    source TEXT,
    service TEXT,
    url TEXT,
    mask INTEGER,
    status INTEGER,
    boxc TEXT
);
CREATE INDEX IF NOT EXISTS dlr_smsc_ts ON dlr (smsc, ts);
