-- The app's own role and database; an ordinary role, like an application's in production.
CREATE ROLE app LOGIN PASSWORD 'app-example';
CREATE DATABASE app OWNER app;
