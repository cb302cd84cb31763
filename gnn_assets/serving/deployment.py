"""Which job's model a task serves: one small record per task in storage
(`<storage root>/serving/<task>/deployed.json`: job name, model sha256, when), written by the
deployed_model asset and read by running servers, which swap models when it changes."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.config.names import validate_name
from gnn_assets.errors import UserError


class NoDeployment(UserError, FileNotFoundError):
    pass


@dataclass(frozen=True)
class Deployment:
    job_name: str
    model_sha256: str
    deployed_at: str


def deployment_uri(layout: StorageLayout, task_name: str) -> str:
    return storage.join(layout.root, "serving", validate_name(task_name, "task name"), "deployed.json")


def write_deployment(layout: StorageLayout, task_name: str, job_name: str, model_sha256: str) -> Deployment:
    record = Deployment(job_name, model_sha256, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    storage.replace_atomically(deployment_uri(layout, task_name), json.dumps(asdict(record), sort_keys=True).encode())
    return record


def read_deployment(layout: StorageLayout, task_name: str) -> Deployment:
    uri = deployment_uri(layout, task_name)
    if not storage.exists(uri):
        raise NoDeployment(f"no model is deployed for task {task_name!r} ({uri} is missing): materialize {task_name}/deployed_model")
    try:
        return Deployment(**json.loads(storage.read_text(uri)))
    except (ValueError, TypeError) as error:
        raise NoDeployment(f"{uri} is not a deployment record: {error}") from error
