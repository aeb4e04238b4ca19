CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
ALTER TABLE orders DETACH PARTITION orders_2024;
VACUUM (ANALYZE) orders;
