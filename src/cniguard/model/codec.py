"""JSON (de)serialisation of the model, with schema versions that fail with a clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cniguard.model.finding import REPORT_SCHEMA, Report
from cniguard.model.inventory import Inventory

INVENTORY_SCHEMA = "cniguard.inventory/v1"
SUPPORTED_INVENTORY_SCHEMAS = (INVENTORY_SCHEMA,)


class InputError(Exception):
    """Bad user input (file, schema, value): reported as one clear line, exit code 2."""


_ADAPTERS: dict[Any, Any] = {}


def _adapter(tp: Any) -> Any:
    """One pydantic TypeAdapter per model type, built on first use (pydantic loads lazily)."""
    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
    return adapter


def dump_python(obj: Any) -> Any:
    """A dataclass of the model as plain JSON-ready Python (tuples become lists)."""
    return _adapter(type(obj)).dump_python(obj, mode="json")


def inventory_fingerprint(inventory: Inventory) -> str:
    """sha256 of the inventory's JSON (pydantic's serializer: a tenth of json.dumps' time)."""
    import hashlib

    return hashlib.sha256(_adapter(Inventory).dump_json(inventory)).hexdigest()


def inventory_to_json(inventory: Inventory) -> dict[str, Any]:
    return {"schema": INVENTORY_SCHEMA, **dump_python(inventory)}


def inventory_from_json(data: Any, *, source: str = "inventory") -> Inventory:
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise InputError(f"{source}: not a cniguard inventory (expected a JSON object)")
    schema = data.get("schema")
    if schema is None:
        raise InputError(f"{source}: no 'schema' key; expected {INVENTORY_SCHEMA!r}")
    if schema not in SUPPORTED_INVENTORY_SCHEMAS:
        if isinstance(schema, str) and schema.startswith("cniguard.inventory/"):
            raise InputError(
                f"{source}: inventory schema {schema!r} is not supported by this cniguard "
                f"(supported: {', '.join(SUPPORTED_INVENTORY_SCHEMAS)}); "
                "re-run `cniguard collect` with this version, or upgrade cniguard"
            )
        raise InputError(f"{source}: schema {schema!r} is not a cniguard inventory")
    body = {k: v for k, v in data.items() if k != "schema"}
    try:
        inventory: Inventory = _adapter(Inventory).validate_python(body)
    except RecursionError:
        raise InputError(f"{source}: invalid inventory: nested too deeply") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"{source}: invalid inventory at {where or '<root>'}: {first['msg']} "
            f"({exc.error_count()} error(s))"
        ) from None
    return inventory


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_utf8(path: Path) -> str:
    """A text file that must be UTF-8 (as JSON and TOML require), or one clear error."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if raw.startswith(_UTF16_BOMS):
        raise InputError(f"{path}: UTF-16 text; save it as UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        ) from None


def load_json(path: Path) -> Any:
    """Parse a JSON file; nesting too deep or integers too long for Python are input errors."""
    text = read_utf8(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise InputError(f"{path}: not usable JSON: {str(exc).split(':')[0]}") from None


def load_inventory(path: Path) -> Inventory:
    return inventory_from_json(load_json(path), source=str(path))


def save_inventory(inventory: Inventory, path: Path) -> None:
    path.write_text(json.dumps(inventory_to_json(inventory), indent=1) + "\n", encoding="utf-8")


def report_from_json(data: Any) -> Report:
    """Load a ``cniguard.report/v1`` document (used by the store and tests)."""
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        raise InputError(f"not a {REPORT_SCHEMA} document")
    body = {
        "kind": data.get("kind", "live"),
        "generated_at": data["generated_at"],
        "tool_version": data["tool"]["version"],
        "clusters": data["clusters"],
        "findings": data["findings"],
        "coverage": data.get("coverage", {}),
        "kpis": data.get("kpis", {}),
    }
    report: Report = _adapter(Report).validate_python(body)
    return report
