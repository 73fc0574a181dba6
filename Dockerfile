# Production-like image: Airflow 3.3.2 plus this project's pinned requirements and library.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /requirements/
RUN pip install --no-cache-dir -r /requirements/requirements.txt -c /requirements/constraints.txt
# The library (src/hubspot_sync) and the sandboxes, installed like any package: no PYTHONPATH.
COPY --chown=airflow:root pyproject.toml /opt/project/
COPY --chown=airflow:root src /opt/project/src
COPY --chown=airflow:root sandbox /opt/project/sandbox
RUN pip install --no-cache-dir --no-deps /opt/project
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
ENV SYNC_MAPPINGS_DIR=/opt/airflow/include/mappings
