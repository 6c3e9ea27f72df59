-- The account pooltuner probes with (example credentials). PROCESS lets it count every client's connections
-- without reading any data; CONNECTION ADMIN lets it use the one slot MariaDB keeps above max_connections, so it
-- can still look when the pools have filled the server (the moment it matters most).
CREATE USER IF NOT EXISTS 'pooltuner'@'%' IDENTIFIED BY 'monitor-example';
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'pooltuner'@'%';
