-- When the ledgerlink app was last installed on the connection's HighLevel location (an OAuth authorisation, or
-- an INSTALL event): an UNINSTALL dated before it is history and never revokes the connection.
ALTER TABLE connections ADD COLUMN hl_installed_at timestamptz;
