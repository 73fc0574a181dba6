# Images of the distributed deployment (docker-compose.yaml), in three stages:
#   base      Airflow 3.3.2 and this project's pinned requirements
#   sandbox   base + the library + the two local sandboxes (only the compose file's
#             hubspot-sandbox / officernd-sandbox services use it)
#   airflow   base + the library, the DAGs, plugins and mappings: the production image
#             (the default target); it holds no sandbox code.
# The settings are not baked in: docker-compose.yaml passes deploy/cluster.env, the same
# file `make cluster` runs with.
FROM apache/airflow:3.3.2-python3.11 AS base
COPY requirements.txt constraints.txt /requirements/
RUN pip install --no-cache-dir -r /requirements/requirements.txt -c /requirements/constraints.txt
COPY --chown=airflow:root pyproject.toml /opt/project/
COPY --chown=airflow:root src /opt/project/src

FROM base AS sandbox
# pyproject.toml installs the sandbox package only where its folder is present: here.
COPY --chown=airflow:root sandbox /opt/project/sandbox
RUN pip install --no-cache-dir --no-deps /opt/project
ENTRYPOINT ["python", "-m", "sandbox"]

FROM base AS airflow
RUN pip install --no-cache-dir --no-deps /opt/project
COPY --chown=airflow:root deploy/create_databases.py /opt/project/deploy/
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
ENV SYNC_MAPPINGS_DIR=/opt/airflow/include/mappings
