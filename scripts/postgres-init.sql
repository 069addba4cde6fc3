-- docker-compose: the ghl-pleo warehouse gets its own database next to Airflow's metadata database.
CREATE DATABASE ghl_pleo OWNER airflow;
