"""HCL files as blocks and attributes that keep their parse trees and line numbers.

python-hcl2's raw Lark tree (``parses_to_tree``) is used instead of its dict output: the tree keeps
every expression unevaluated with its position, so one parse serves both evaluation and the
``file:line`` of every finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2.api
from lark import Token, Tree
from lark.exceptions import LarkError

MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class SourceText:
    """Text an expression was parsed from: the file shown in findings and a line offset."""

    display: str
    text: str
    line_offset: int = 0

    def line_of(self, node: Tree[Token] | Token) -> int | None:
        line = node.line if isinstance(node, Token) else getattr(node.meta, "line", None)
        return None if line is None else line + self.line_offset

    def snippet(self, node: Tree[Token]) -> str:
        meta = node.meta
        if getattr(meta, "empty", True):
            return "?"
        return " ".join(self.text[meta.start_pos : meta.end_pos].split())


@dataclass(frozen=True)
class Attribute:
    name: str
    expr: Tree[Token]
    source: SourceText
    line: int | None


@dataclass
class Block:
    """One HCL block: ``type "label" ... { attributes, nested blocks }``."""

    type: str
    labels: tuple[str, ...]
    source: SourceText
    line: int | None
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class HclFile:
    """A parsed file, or the reason it could not be read (with the line when there is one)."""

    path: Path
    display: str
    body: Block | None = None
    error: str | None = None
    error_line: int | None = None


def _name(node: Tree[Token] | Token) -> str:
    """The text of an identifier, keyword, literal or plain string label."""
    if isinstance(node, Token):
        return str(node)
    if node.data == "string":
        return "".join(
            str(part.children[0])
            for part in node.children
            if isinstance(part, Tree) and isinstance(part.children[0], Token)
        )
    return _name(node.children[0])


def _build_body(body: Tree[Token], block: Block) -> None:
    for child in body.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute":
            name = _name(child.children[0])
            expr = child.children[-1]
            assert isinstance(expr, Tree)
            block.attributes[name] = Attribute(
                name, expr, block.source, block.source.line_of(child)
            )
        elif child.data == "block":
            block.blocks.append(_build_block(child, block.source))


def _build_block(node: Tree[Token], source: SourceText) -> Block:
    names: list[str] = []
    body: Tree[Token] | None = None
    for child in node.children:
        if isinstance(child, Tree) and child.data == "body":
            body = child
        elif isinstance(child, Tree) and child.data != "new_line_or_comment":
            names.append(_name(child))
    block = Block(names[0], tuple(names[1:]), source, source.line_of(node))
    if body is not None:
        _build_body(body, block)
    return block


def parse_text(text: str, display: str, line_offset: int = 0) -> Block:
    """Parse HCL text into a root block (type ``""``). Raises :class:`LarkError` on bad syntax."""
    source = SourceText(display, text, line_offset)
    tree = hcl2.api.parses_to_tree(text)
    root = Block("", (), source, 1)
    body = tree.children[0]
    assert isinstance(body, Tree)
    _build_body(body, root)
    return root


def _error_line(error: LarkError) -> int | None:
    line = getattr(error, "line", None)
    return line if isinstance(line, int) and line > 0 else None


_RELEVANT = re.compile(r"^\s*(?:resource|data|module|variable|locals|output)\b", re.MULTILINE)


def load_file(path: Path, display: str, *, configuration: bool = True) -> HclFile:
    """Read and parse one file; every failure becomes a reason, never an exception.

    A configuration file with none of the blocks cniguard evaluates (``versions.tf``,
    ``providers.tf``) is not parsed: parsing is most of the scan time.
    """
    result = HclFile(path, display)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            result.error = f"skipped: {size} bytes is over the {MAX_FILE_BYTES} byte limit"
            return result
        raw = path.read_bytes()
    except OSError as exc:
        result.error = f"unreadable: {exc.strerror or exc}"
        return result
    if b"\x00" in raw:
        result.error = "skipped: binary file"
        return result
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.error = "skipped: not UTF-8 text"
        return result
    if configuration and not _RELEVANT.search(text):
        result.body = Block("", (), SourceText(display, ""), 1)
        return result
    try:
        result.body = parse_text(text, display)
    except LarkError as exc:
        result.error = f"HCL syntax error: {str(exc).splitlines()[0]}"
        result.error_line = _error_line(exc)
    except (RecursionError, ValueError, RuntimeError) as exc:  # python-hcl2 post-processing
        result.error = f"HCL could not be parsed: {type(exc).__name__}: {exc}"
    return result
