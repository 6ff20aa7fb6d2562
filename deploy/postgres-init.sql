-- The databases of deploy/compose.scaled.yaml's PostgreSQL: one per service, owned by troupe.
CREATE DATABASE troupe_order;
CREATE DATABASE troupe_inventory;
CREATE DATABASE troupe_payment;
CREATE DATABASE troupe_shipping;
CREATE DATABASE troupe_notification;
