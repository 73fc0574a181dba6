# Production-like image: Airflow 3.3.2 plus this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /requirements/
RUN pip install --no-cache-dir -r /requirements/requirements.txt -c /requirements/constraints.txt
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
COPY --chown=airflow:root sandbox /opt/airflow/sandbox
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow
