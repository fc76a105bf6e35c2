-- What people call the two sides of a connection: the QuickBooks company's CompanyName (CompanyInfo) and the
-- HighLevel location's name, read when each side is connected, so that the dashboard names them instead of showing
-- a realm number or a location id. Null for a side connected before these were kept, until it is connected again.

ALTER TABLE connections ADD COLUMN qbo_company_name text;
ALTER TABLE connections ADD COLUMN hl_location_name text;
