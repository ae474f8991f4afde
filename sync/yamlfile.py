"""YAML with line numbers and ``${ENV_VAR}`` interpolation.

``load_yaml`` returns the document and a map from key paths (tuples of keys and
list indexes) to the line they were written on, so any later validation error
can say where in the file it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sync.errors import ConfigError

Path_ = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file with the line of every key and the secrets it read."""

    data: Any
    lines: Mapping[Path_, int]
    file: str
    secrets: frozenset[str] = field(default_factory=frozenset)

    def line_of(self, path: Path_) -> int | None:
        """The line of the deepest known key on ``path``."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            lines[(*path, name)] = key.start_mark.line + 1
            _walk(value, (*path, name), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), lines)


def _interpolate(value: Any, path: Path_, doc_file: str, lines: Mapping[Path_, int],
                 env: Mapping[str, str], secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), doc_file, lines, env, secrets)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), doc_file, lines, env, secrets)
                for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            found = env[name]
        elif default is not None:
            found = default
        else:
            raise ConfigError(f"environment variable {name} is not set",
                              file=doc_file, line=lines.get(path),
                              key=".".join(str(p) for p in path))
        if found:
            secrets.add(found)
        return found

    return _ENV.sub(repl, value)


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 file's text, or a ConfigError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what}: {exc}", file=str(path)) from None


def load_yaml(path: Path, env: Mapping[str, str] | None = None) -> YamlDocument:
    """Parse a YAML file, interpolate ``${VAR}`` and ``${VAR:-default}``, keep key lines."""
    name = str(path)
    text = read_text(path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=name) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines)
    secrets: set[str] = set()
    data = _interpolate(data, (), name, lines, os.environ if env is None else env, secrets)
    return YamlDocument(data, lines, name, frozenset(secrets))
