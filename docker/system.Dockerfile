# Dagster webserver and daemon, with Postgres storage. Build from the repository root:
#   docker build -f docker/system.Dockerfile -t gnn-assets-dagster:latest .
FROM python:3.11-slim

RUN pip install --no-cache-dir dagster==1.13.27 dagster-webserver==1.13.27 dagster-postgres==0.29.27
ENV DAGSTER_HOME=/opt/dagster/home
COPY docker/dagster.yaml docker/workspace.yaml /opt/dagster/home/
WORKDIR /opt/dagster/home
