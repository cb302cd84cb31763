"""YAML <-> protobuf with protobuf's JSON names (camelCase), as GiGL writes its configs."""

from __future__ import annotations

import os
import re
from typing import Any, TypeVar

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError

M = TypeVar("M", bound=Message)

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


MAX_CONFIG_BYTES = 1 << 20  # every config the project reads: task, resource, graph metadata


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)
    and every alias: a few hundred bytes of nested aliases expand to gigabytes once the parsed
    value is walked (by ${VAR} substitution, by protobuf), and no config of ours needs one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in configs", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def expand_env(data: Any, uri: str) -> Any:
    """Replace ${VAR} and ${VAR:-default} inside the parsed string values (never in the YAML
    text: a comment may mention ${VAR}, and a value cannot inject YAML). A variable that is
    unset and has no default is an error."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name, default)
        if value is None:
            raise ConfigError(f"{uri}: environment variable {name} is not set")
        return value

    if isinstance(data, str):
        return _ENV_VAR.sub(substitute, data)
    if isinstance(data, dict):
        return {key: expand_env(value, uri) for key, value in data.items()}
    if isinstance(data, list):
        return [expand_env(value, uri) for value in data]
    return data


def _parse_mapping(text: str, uri: str) -> dict:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{uri}: {len(text):,} characters, more than a config may hold ({MAX_CONFIG_BYTES:,})")
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{uri}: not valid YAML: {' '.join(str(error).split())}") from error
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{uri}: expected a mapping at the top level, found {type(data).__name__}")
    return data


def _to_message(data: dict, message: M, uri: str) -> M:
    try:
        return json_format.ParseDict(data, message)
    except json_format.ParseError as error:
        # protobuf's message names the field and its path, e.g. 'no field named "x" at "GbmlConfig.sharedConfig"'.
        raise ConfigError(f"{uri}: {str(error).splitlines()[0]}") from error


def parse_yaml(text: str, message: M, uri: str, *, env: bool = False) -> M:
    data = _parse_mapping(text, uri)
    return _to_message(expand_env(data, uri) if env else data, message, uri)


def load_yaml(uri: str, message: M, *, env: bool = False) -> M:
    try:
        size = storage.size(uri)
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{uri}: {size:,} bytes, more than a config may hold ({MAX_CONFIG_BYTES:,})")
        text = storage.read_text(uri)
    except (OSError, IOError) as error:
        raise ConfigError(f"{uri}: cannot read config: {error}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{uri}: not UTF-8 text: {error}") from error
    return parse_yaml(text, message, uri, env=env)


def to_yaml(message: Message) -> str:
    """Deterministic YAML: the same message always gives the same bytes."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=False)
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, width=100)


def camel_case(snake: str) -> str:
    """A proto field name as it is spelled in YAML (its JSON name)."""
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
