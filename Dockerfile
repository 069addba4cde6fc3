# The Airflow image for docker-compose.yaml: Airflow's official image, the project's pinned requirements and the
# project itself (the ghl_pleo package, an Airflow provider), as Airflow's "Building the image" docs extend it.
# AIRFLOW_VERSION is the base image's version; requirements.txt pins the same apache-airflow and the providers
# released with it. No container engine runs on the machines this project is built on: this build is unproven
# there (README.md, "Deployment").
ARG AIRFLOW_VERSION=3.3.2

# The libraries Data Docs pages load (jQuery, Bootstrap, Vega, Font Awesome...), at the versions pinned in
# data-docs-assets/package-lock.json, from the npm registry, as `make docs-assets` installs them.
FROM node:20-bookworm-slim AS docs-assets
WORKDIR /data-docs-assets
COPY data-docs-assets/package.json data-docs-assets/package-lock.json data-docs-assets/.npmrc /data-docs-assets/
RUN npm ci --ignore-scripts --loglevel=error

FROM apache/airflow:${AIRFLOW_VERSION}-python3.11
ARG AIRFLOW_VERSION

# Requirements, with apache-airflow at the image's own version on the same pip line (Airflow's docs): pip can
# then never up- or downgrade Airflow to satisfy a requirement; a conflict fails the build instead.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt

# The project (pyproject.toml, the package under plugins/): installed without dependencies, which are all in
# requirements.txt above. Airflow finds the provider through its apache_airflow_provider entry point.
COPY --chown=airflow:root pyproject.toml /opt/ghl-pleo/pyproject.toml
COPY --chown=airflow:root plugins /opt/ghl-pleo/plugins
RUN pip install --no-cache-dir --no-deps /opt/ghl-pleo

# Data Docs pages load these local copies, not the CDNs (plugins/ghl_pleo/docs_assets.py).
COPY --from=docs-assets --chown=airflow:root data-docs-assets/node_modules /opt/ghl-pleo/data-docs-assets/node_modules
ENV GHL_PLEO_DOCS_ASSETS=/opt/ghl-pleo/data-docs-assets/node_modules

# The demo sandbox (docker compose --profile demo).
COPY --chown=airflow:root sandbox /opt/ghl-pleo/sandbox
# Prints the metadata database's URL with the password percent-encoded (the *_CMD settings in docker-compose.yaml).
COPY --chown=airflow:root scripts/db_url.py /opt/ghl-pleo/db_url.py
