ALTER TABLE app.users DROP COLUMN is_admin;
