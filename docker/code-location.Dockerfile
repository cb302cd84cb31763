# The Dagster code location: gnn_assets with its Component instances (gnn_assets/defs/), served over gRPC to the webserver
# and daemon. Build from the repository root:
#   docker build -f docker/code-location.Dockerfile -t gnn-assets-code:latest .
FROM python:3.11-slim

WORKDIR /opt/gnn_assets
# The CPU build of torch first, from PyTorch's CPU index: PyPI's default is a CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY gnn_assets ./gnn_assets
RUN pip install --no-cache-dir . dagster-postgres==0.29.27
COPY resources ./resources
COPY workspace.yaml ./

# The deployment instance (gnn_assets/defs/deployment/defs.yaml) names no file: this one.
ENV GNN_ASSETS_RESOURCE_CONFIG=/opt/gnn_assets/resources/gcp.yaml
EXPOSE 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "gnn_assets.definitions"]
