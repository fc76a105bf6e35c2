-- The bookkeeper's mappings (deposit account, income account, product items, class, location, payment methods) name
-- a company's own records, like the tax code mapping: set aside with it when a connection switches company.
ALTER TABLE set_aside_company_settings ADD COLUMN mappings jsonb NOT NULL DEFAULT '{}'::jsonb;
