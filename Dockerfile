# The Airflow image for docker-compose.yaml: Airflow's official image plus the project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY --chown=airflow:root sandbox /opt/ghl-pleo/sandbox
# Prints the metadata database's URL with the password percent-encoded (the *_CMD settings in docker-compose.yaml).
COPY --chown=airflow:root scripts/db_url.py /opt/ghl-pleo/db_url.py
