import hashlib
import re

from gnn_assets.config.errors import ConfigError

# Dataflow's rule for job names; job names also become table names and partition keys.
_JOB_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def validate_job_name(name: str) -> str:
    if not _JOB_NAME.fullmatch(name or "") or len(name) > 63:
        raise ConfigError(
            f"invalid job name {name!r}: it must match [a-z]([-a-z0-9]*[a-z0-9])? "
            "(lowercase letters, digits and '-', starting with a letter, not ending with '-'), at most 63 characters"
        )
    return name


def job_name_for_model_file(uri: str) -> str:
    """The job name a trained-model file stands for: its file name, made a valid job name.

    'Daily Run_2026-11-22.pt' -> 'daily-run-2026-11-22'. Deterministic, so the sensor and the
    frozen_config asset agree without sharing any state.
    """
    stem = uri.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    name = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
    if not name or not name[0].isalpha():
        name = f"m-{name}".rstrip("-")
    if len(name) > 63:
        digest = hashlib.sha256(stem.encode()).hexdigest()[:8]
        name = f"{name[:54].rstrip('-')}-{digest}"
    return name
