"""YAML <-> protobuf with protobuf's JSON names (camelCase), as GiGL writes its configs."""

from __future__ import annotations

import os
import re
from typing import TypeVar

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError

M = TypeVar("M", bound=Message)

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str, uri: str) -> str:
    """Replace ${VAR} and ${VAR:-default}; a variable that is unset and has no default is an error."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name, default)
        if value is None:
            raise ConfigError(f"{uri}: environment variable {name} is not set")
        return value

    return _ENV_VAR.sub(substitute, text)


def parse_yaml(text: str, message: M, uri: str) -> M:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{uri}: not valid YAML: {error}") from error
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{uri}: expected a mapping at the top level, found {type(data).__name__}")
    try:
        return json_format.ParseDict(data, message)
    except json_format.ParseError as error:
        # protobuf's message names the field and its path, e.g. 'no field named "x" at "GbmlConfig.sharedConfig"'.
        raise ConfigError(f"{uri}: {str(error).splitlines()[0]}") from error


def load_yaml(uri: str, message: M, *, env: bool = False) -> M:
    try:
        text = storage.read_text(uri)
    except (OSError, IOError) as error:
        raise ConfigError(f"{uri}: cannot read config: {error}") from error
    if env:
        text = expand_env(text, uri)
    return parse_yaml(text, message, uri)


def to_yaml(message: Message) -> str:
    """Deterministic YAML: the same message always gives the same bytes."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=False)
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, width=100)


def camel_case(snake: str) -> str:
    """A proto field name as it is spelled in YAML (its JSON name)."""
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
