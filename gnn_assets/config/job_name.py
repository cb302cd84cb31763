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
