CREATE TABLE orders (
    id SERIAL PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    total NUMERIC(12, 2) NOT NULL DEFAULT 0,
    note VARCHAR,
    placed_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW()
) PARTITION BY RANGE (placed_at);
CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE order_lines (LIKE orders INCLUDING DEFAULTS, line_no INT NOT NULL);
SELECT diesel_manage_updated_at('orders');
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;
ALTER TABLE customers ADD COLUMN last_order_id INTEGER REFERENCES orders (id);
ALTER TABLE customers ALTER COLUMN email SET NOT NULL;
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY customers_owner ON customers USING (owner = current_user);
CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(total) AS total FROM orders GROUP BY customer_id;
REFRESH MATERIALIZED VIEW order_totals;
COMMENT ON COLUMN orders.note IS 'free text';
GRANT SELECT, INSERT ON orders TO app_user;
REVOKE ALL ON order_totals FROM PUBLIC;
