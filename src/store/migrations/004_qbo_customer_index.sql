-- A per-connection index of the QuickBooks company's customers by normalised email. QuickBooks' query language
-- compares text exactly, so 'Jane.Doe@Example.com ' cannot be found by 'jane.doe@example.com' through it; the
-- index is filled by one scan and kept fresh by incremental queries on MetaData.LastUpdatedTime.
CREATE TABLE qbo_customers (
  connection_id text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  qbo_id text NOT NULL,
  email text,
  display_name text NOT NULL,
  active boolean NOT NULL,
  sync_token text,
  last_updated text,
  PRIMARY KEY (connection_id, qbo_id)
);
CREATE INDEX qbo_customers_email ON qbo_customers (connection_id, email);
