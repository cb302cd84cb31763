# The Dataflow worker (SDK container): Beam's Python 3.11 SDK image plus this package, so
# workers need nothing staged at job start. Build from the repository root:
#   docker build -f docker/dataflow-worker.Dockerfile -t $GNN_WORKER_IMAGE .
# For GPU workers (resources/gcp-gpu.yaml) build with a CUDA build of torch:
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t $GNN_GPU_WORKER_IMAGE
FROM apache/beam_python3.11_sdk:2.77.0

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir torch==2.13.0 --index-url ${TORCH_INDEX}
COPY pyproject.toml README.md /opt/gnn_assets/
COPY gnn_assets /opt/gnn_assets/gnn_assets
RUN pip install --no-cache-dir /opt/gnn_assets

# The SDK image's own entrypoint (/opt/apache/beam/boot) stays as it is.
