"""HCL files as blocks and attributes that keep their parse trees and line numbers.

python-hcl2's raw Lark tree (``parses_to_tree``) is used instead of its dict output: the tree keeps
every expression unevaluated with its position, so one parse serves both evaluation and the
``file:line`` of every finding. Parsing is most of a scan's time, so a file whose text was already
parsed in the same scan (``outputs.tf`` or tfvars copied between stacks) reuses those blocks under
its own name: trees are never modified, and their positions are relative to the text, which is
the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import hcl2.api
from lark import Token, Tree
from lark.exceptions import LarkError

from cniguard.collect.walk import check_file

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


def _root_block(tree: Tree[Token], source: SourceText) -> Block:
    root = Block("", (), source, 1)
    body = tree.children[0]
    assert isinstance(body, Tree)
    _build_body(body, root)
    return root


def parse_text(text: str, display: str, line_offset: int = 0) -> Block:
    """Parse HCL text into a root block (type ``""``). Raises :class:`LarkError` on bad syntax."""
    return _root_block(hcl2.api.parses_to_tree(text), SourceText(display, text, line_offset))


def _error_line(error: LarkError) -> int | None:
    line = getattr(error, "line", None)
    return line if isinstance(line, int) and line > 0 else None


@dataclass(frozen=True)
class ParseFailure:
    """Why a text could not be parsed, kept so that a copy of it fails the same way."""

    error: str
    line: int | None = None


ParseCache = dict[str, "Block | ParseFailure"]


def _with_source(block: Block, source: SourceText) -> Block:
    """The same blocks and expressions, shown as coming from another file with the same text."""
    return Block(
        block.type,
        block.labels,
        source,
        block.line,
        {name: replace(a, source=source) for name, a in block.attributes.items()},
        [_with_source(nested, source) for nested in block.blocks],
    )


def _parse_once(source: SourceText, cache: ParseCache) -> Block | ParseFailure:
    cached = cache.get(source.text)
    if cached is not None:
        return cached if isinstance(cached, ParseFailure) else _with_source(cached, source)
    outcome: Block | ParseFailure
    try:
        outcome = _root_block(hcl2.api.parses_to_tree(source.text), source)
    except LarkError as exc:
        outcome = ParseFailure(f"HCL syntax error: {str(exc).splitlines()[0]}", _error_line(exc))
    except (RecursionError, ValueError, RuntimeError) as exc:  # python-hcl2 post-processing
        outcome = ParseFailure(f"HCL could not be parsed: {type(exc).__name__}: {exc}")
    cache[source.text] = outcome
    return outcome


_RELEVANT = re.compile(r"^\s*(?:resource|data|module|variable|locals|output)\b", re.MULTILINE)


def load_file(
    path: Path, display: str, *, configuration: bool = True, cache: ParseCache | None = None
) -> HclFile:
    """Read and parse one file; every failure becomes a reason, never an exception.

    A configuration file with none of the blocks cniguard evaluates (``versions.tf``,
    ``providers.tf``) is not parsed: parsing is most of the scan time. ``cache`` holds the
    outcome of every text parsed so far in this scan.
    """
    result = HclFile(path, display)
    unsafe = check_file(path)  # a FIFO would hang the read
    if unsafe is not None:
        result.error = f"unreadable: {unsafe.reason}"
        return result
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
    outcome = _parse_once(SourceText(display, text), {} if cache is None else cache)
    if isinstance(outcome, ParseFailure):
        result.error, result.error_line = outcome.error, outcome.line
    else:
        result.body = outcome
    return result
