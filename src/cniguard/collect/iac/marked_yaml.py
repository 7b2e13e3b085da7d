"""YAML (and JSON, a subset of it) loaded into plain containers that remember their line numbers.

eksctl files and Kubernetes manifests need 1-based lines for findings; PyYAML's composer has them,
and these containers keep them without changing how the values behave as dicts and lists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cniguard.model.inventory import Gap


class MarkedDict(dict[Any, Any]):
    """A mapping with the line of its first key and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class MarkedList(list[Any]):
    line: int = 0
    item_lines: list[int]


# What the YAML reader refuses (PyYAML's ``Reader.NON_PRINTABLE``): C0/C1 controls, surrogates.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def unacceptable_character(text: str) -> tuple[str, int] | None:
    """The first character YAML refuses, described, and its 1-based line (the reader's own
    error gives a character offset only)."""
    found = _NON_PRINTABLE.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    return f"control character #x{ord(found.group()):04x} is not allowed in YAML", line


class YamlSyntaxError(ValueError):
    """A YAML document that does not parse; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        out = MarkedDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_marked_sequence(self, node: yaml.SequenceNode) -> MarkedList:
        out = MarkedList(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_marked_sequence
)


def _unknown_tag(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    """Custom tags (CloudFormation's !Ref, Helm-ish !!) load as their plain value, not an error."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_marked_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _unknown_tag)


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream; raises :class:`YamlSyntaxError` with the line."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise YamlSyntaxError(exc.problem or str(exc), line) from None
    except yaml.YAMLError as exc:
        bad = unacceptable_character(text)
        if bad is not None:
            raise YamlSyntaxError(*bad) from None
        raise YamlSyntaxError(str(exc), 0) from None
    except RecursionError:
        raise YamlSyntaxError("nesting too deep", 0) from None


def load_file(path: Path) -> list[Any] | Gap:
    """The documents of a YAML/JSON file, or the Gap (file, line) saying why it was not read."""
    try:
        return load_all(path.read_text(encoding="utf-8-sig"))
    except YamlSyntaxError as exc:
        return Gap(
            what="iac:parse",
            reason=f"syntax error: {exc}",
            resource=str(path),
            line=exc.line or None,
        )
    except (OSError, UnicodeDecodeError) as exc:
        return Gap(what="iac:parse", reason=f"cannot read: {exc}", resource=str(path))
