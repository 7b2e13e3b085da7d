"""Terraform module semantics: variables, locals, resources, data sources and module calls.

Every name is resolved lazily and once per module instance: a resource is expanded (``count`` /
``for_each``) and its body evaluated only when something needs it. Count 0, an empty ``for_each``
or a module whose ``create`` turns everything off therefore simply yields no instances.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from cniguard.collect.iac.terraform.computed import (
    qualify,
    with_computed,
)
from cniguard.collect.iac.terraform.data_sources import data_source
from cniguard.collect.iac.terraform.expressions import Context, literal_key, parts
from cniguard.collect.iac.terraform.hcl import Attribute, Block, SourceText
from cniguard.collect.iac.terraform.limits import budget
from cniguard.collect.iac.terraform.records import Problem, ResourceInstance
from cniguard.collect.iac.terraform.typeconv import convert
from cniguard.collect.iac.terraform.values import (
    EvalError,
    Namespace,
    ResourceObject,
    Unknown,
    Value,
    as_collection,
    to_int,
    to_text,
)
from cniguard.model.common import Origin

META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})
CALL_ARGUMENTS = META_ARGUMENTS | {"source", "version", "providers"}
SKIPPED_BLOCKS = frozenset({"lifecycle", "provisioner", "connection", "timeouts"})

# Resource types the mapper turns into the model; only these are expanded eagerly.
MAPPED_TYPES = frozenset(
    {
        "aws_iam_role",
        "aws_iam_role_policy_attachment",
        "aws_iam_role_policy",
        "aws_iam_policy",
        "aws_iam_policy_attachment",
        "aws_iam_instance_profile",
        "aws_iam_openid_connect_provider",
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_eks_fargate_profile",
        "aws_eks_addon",
        "aws_eks_pod_identity_association",
        "aws_eks_access_entry",
        "aws_launch_template",
        "aws_autoscaling_group",
    }
)


@dataclass
class ModuleDefinition:
    """The blocks of one module directory (user code, vendored code or a registry emulation)."""

    display_dir: str
    directory: Path | None = None  # on disk; None for registry emulations
    root: Path | None = None  # the root module directory (for .terraform/modules)
    user_code: bool = True
    registry: str | None = None  # emulation key, e.g. "eks//modules/karpenter"
    version: str | None = None  # registry version constraint or git ref of the call
    kind: str | None = None  # e.g. "karpenter": how the mapper should read its node role
    variables: dict[str, Block] = field(default_factory=dict)
    locals: dict[str, Attribute] = field(default_factory=dict)
    outputs: dict[str, Block] = field(default_factory=dict)
    resources: dict[str, Block] = field(default_factory=dict)
    data: dict[str, Block] = field(default_factory=dict)
    calls: dict[str, Block] = field(default_factory=dict)
    resource_types: set[str] = field(default_factory=set)

    def add_file(self, body: Block) -> None:
        for block in body.blocks:
            labels = block.labels
            if block.type == "variable" and labels:
                self.variables[labels[0]] = block
            elif block.type == "locals":
                self.locals.update(block.attributes)
            elif block.type == "output" and labels:
                self.outputs[labels[0]] = block
            elif block.type == "resource" and len(labels) == 2:
                self.resources[f"{labels[0]}.{labels[1]}"] = block
                self.resource_types.add(labels[0])
            elif block.type == "data" and len(labels) == 2:
                self.data[f"{labels[0]}.{labels[1]}"] = block
            elif block.type == "module" and labels:
                self.calls[labels[0]] = block


@dataclass(frozen=True)
class Anchor:
    """Where code the user did not write (registry, ``.terraform``) is called from."""

    file: str
    line: int | None
    key_lines: dict[str, int]


class ModuleLoader(Protocol):
    """Finds the definition a ``source`` names, or says why it cannot (see ``loader.py``)."""

    def load(self, caller: ModuleInstance, call: Block, source: str) -> ModuleDefinition | str: ...


def _too_many(total: int, attribute: Attribute) -> Unknown | None:
    """``count`` / ``for_each`` past the instance limit: unknown, recorded for a gap."""
    limit = budget().limits.instances
    if total <= limit:
        return None
    message = f"{total} instances is over the {limit} instance limit"
    budget().record(attribute.source.display, attribute.line, message)
    return Unknown(
        attribute.source.snippet(attribute.expr),
        f"not evaluated: {message}",
        attribute.source.display,
        attribute.line,
    )


def _index_suffix(key: Value) -> str:
    return f"[{key}]" if isinstance(key, int) else f'["{key}"]'


def key_lines(block: Block) -> dict[str, int]:
    """Lines of the keys of object literals in a module call (node group maps, add-on maps)."""
    lines: dict[str, int] = {}
    for attribute in block.attributes.values():
        node = attribute.expr
        while node.data == "expr_term" and len(parts(node)) == 1:
            node = parts(node)[0]
        if node.data != "object":
            continue
        for element in parts(node):
            key = literal_key(parts(element)[0])
            line = attribute.source.line_of(element)
            if key is not None and line is not None:
                lines.setdefault(key, line)
    return lines


class ModuleInstance:
    """One instance of a module: resolves names, expands resources, calls child modules."""

    def __init__(
        self,
        definition: ModuleDefinition,
        address: str,
        inputs: dict[str, Callable[[], Value]],
        loader: ModuleLoader,
        *,
        anchor: Anchor | None = None,
        key: Value = None,
        root_display: str | None = None,
        expansion: Unknown | None = None,
        expanded_by: str = "",
    ) -> None:
        self.key = key
        # set when this instance stands for a module call of unknown count / for_each: every
        # resource in it may not exist
        self.expansion = expansion
        self.expanded_by = expanded_by
        self.root_display = root_display or definition.display_dir
        self.definition = definition
        self.address = address
        self.inputs = inputs
        self.loader = loader
        self.anchor = anchor
        self._memo: dict[str, Value] = {}
        self._busy: set[str] = set()
        self._children: dict[str, list[ModuleInstance]] = {}
        self.problems: list[Problem] = []

    # --- name resolution ---------------------------------------------------------------------

    def _memoised(self, key: str, compute: Callable[[], Value]) -> Value:
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return Unknown(key, "refers to itself (cycle)")
        self._busy.add(key)
        try:
            value = compute()
        finally:
            self._busy.discard(key)
        self._memo[key] = value
        return value

    def resolve(self, name: str) -> Value:
        if name == "var":
            return Namespace("var", self.variable)
        if name == "local":
            return Namespace("local", self.local)
        if name == "module":
            return Namespace("module", self.module_value)
        if name == "data":
            return Namespace("data", lambda t: Namespace(t, lambda n: self.data_value(t, n)))
        if name == "path":
            root = self.root_display
            return {"module": self.definition.display_dir, "root": root, "cwd": root}
        if name == "terraform":
            return {"workspace": "default"}
        if name in self.definition.resource_types:
            return Namespace(name, lambda n: self.resource_value(name, n))
        raise EvalError(f"unknown name {name!r}")

    def context(self, source: SourceText, **bindings: Value) -> Context:
        return Context(self.resolve, source, bindings)

    def variable(self, name: str) -> Value:
        return self._memoised(f"var.{name}", lambda: self._variable(name))

    def _variable(self, name: str) -> Value:
        block = self.definition.variables.get(name)
        if block is None:
            raise EvalError(f"no variable {name!r}")
        context = self.context(block.source)
        nullable = True
        if "nullable" in block.attributes:
            nullable = context.value(block.attributes["nullable"].expr) is not False
        value = self.inputs[name]() if name in self.inputs else None
        if name not in self.inputs or (value is None and not nullable):
            if "default" in block.attributes:
                value = context.value(block.attributes["default"].expr)
            elif name not in self.inputs:
                return Unknown(
                    f"var.{name}",
                    "variable has no value (no default, no tfvars)",
                    block.source.display,
                    block.line,
                )
        if "type" in block.attributes:
            value = convert(block.attributes["type"].expr, value, context)
        return value

    def local(self, name: str) -> Value:
        attribute = self.definition.locals.get(name)
        if attribute is None:
            raise EvalError(f"no local {name!r}")
        return self._memoised(
            f"local.{name}", lambda: self.context(attribute.source).value(attribute.expr)
        )

    # --- expansion ---------------------------------------------------------------------------

    def _expansion(self, block: Block) -> tuple[str, list[tuple[Value, Context]]] | Unknown:
        """("single"|"count"|"for_each", [(key, context)]) for a resource, data or module block."""
        context = self.context(block.source)
        if "count" in block.attributes:
            count = context.value(block.attributes["count"].expr)
            if isinstance(count, Unknown):
                return count
            try:
                total = to_int(count)
            except EvalError as exc:
                return context.unknown(block.attributes["count"].expr, str(exc))
            over = _too_many(total, block.attributes["count"])
            if over is not None:
                return over
            return "count", [(i, context.bind(count={"index": i})) for i in range(total)]
        if "for_each" in block.attributes:
            collection = context.value(block.attributes["for_each"].expr)
            if isinstance(collection, Unknown):
                return collection
            if collection is None:
                collection = {}
            try:
                pairs = as_collection(collection)
            except EvalError as exc:
                return context.unknown(block.attributes["for_each"].expr, str(exc))
            over = _too_many(len(pairs), block.attributes["for_each"])
            if over is not None:
                return over
            items: list[tuple[Value, Context]] = []
            for key, value in pairs:
                each_key = to_text(value if isinstance(collection, list) else key)
                items.append((each_key, context.bind(each={"key": each_key, "value": value})))
            return "for_each", items
        return "single", [(None, context)]

    def _body(self, block: Block, context: Context) -> dict[str, Value]:
        values: dict[str, Value] = {}
        for name, attribute in block.attributes.items():
            if name not in META_ARGUMENTS:
                values[name] = context.with_source(attribute.source).value(attribute.expr)
        for nested in block.blocks:
            if nested.type in SKIPPED_BLOCKS:
                continue
            if nested.type == "dynamic" and nested.labels:
                self._dynamic(nested, context, values)
            else:
                values.setdefault(nested.type, []).append(self._body(nested, context))
        return values

    def _dynamic(self, block: Block, context: Context, values: dict[str, Value]) -> None:
        name = block.labels[0]
        target = values.setdefault(name, [])
        iterator = name
        if "iterator" in block.attributes:
            attribute = block.attributes["iterator"]
            iterator = attribute.source.snippet(attribute.expr)
        content = next((b for b in block.blocks if b.type == "content"), None)
        if "for_each" not in block.attributes or content is None:
            return
        collection = context.value(block.attributes["for_each"].expr)
        if isinstance(collection, Unknown):
            values[name] = collection
            return
        try:
            pairs = as_collection(collection if collection is not None else [])
        except EvalError as exc:
            values[name] = context.unknown(block.attributes["for_each"].expr, str(exc))
            return
        if isinstance(target, Unknown):
            return
        for key, value in pairs:
            inner = context.bind(**{iterator: {"key": key, "value": value}})
            target.append(self._body(content, inner))

    def _instances(self, kind: str, key: str) -> Value:
        """The value of ``<type>.<name>`` (or ``data.<type>.<name>``) as references see it."""
        blocks = self.definition.resources if kind == "resource" else self.definition.data
        block = blocks.get(key)
        if block is None:
            raise EvalError(f"no {kind} {key}")
        expansion = self._expansion(block)
        prefix = key if kind == "resource" else f"data.{key}"
        if isinstance(expansion, Unknown):
            # every attribute of these instances comes from this resource (Unknown.owner)
            return replace(expansion, owner=qualify(self.root_display, self._qualified(prefix)))
        mode, items = expansion
        objects = []
        for index, context in items:
            address = self._qualified(prefix + ("" if mode == "single" else _index_suffix(index)))
            objects.append((index, self._instance_object(block, context, address, kind)))
        if mode == "single":
            return objects[0][1]
        if mode == "count":
            return [obj for _, obj in objects]
        return {str(index): obj for index, obj in objects}

    def _qualified(self, address: str) -> str:
        return f"{self.address}.{address}" if self.address else address

    def _instance_object(
        self, block: Block, context: Context, address: str, kind: str
    ) -> ResourceObject:
        resource_type = block.labels[0]
        values = self._body(block, context)
        if kind == "data":
            values = data_source(resource_type, values)
        else:
            values = with_computed(resource_type, values, qualify(self.root_display, address))
        return ResourceObject(address, values)

    def _possible_instance(self, block: Block, key: str, expansion: Unknown) -> ResourceObject:
        """The body of a resource whose ``count`` / ``for_each`` is unknown, evaluated once with
        ``each`` and ``count.index`` unknown: what each instance would be, if any exists."""
        meta = "for_each" if "for_each" in block.attributes else "count"
        unknown = Unknown(f"{key}.{meta}", f"{meta} is unknown: {expansion.describe()}")
        context = self.context(block.source).bind(
            each={"key": unknown, "value": unknown}, count={"index": unknown}
        )
        return self._instance_object(block, context, self._qualified(key), "resource")

    def resource_value(self, resource_type: str, name: str) -> Value:
        key = f"{resource_type}.{name}"
        return self._memoised(key, lambda: self._instances("resource", key))

    def data_value(self, data_type: str, name: str) -> Value:
        key = f"{data_type}.{name}"
        return self._memoised(f"data.{key}", lambda: self._instances("data", key))

    # --- module calls ------------------------------------------------------------------------

    def children(self, name: str) -> list[ModuleInstance] | Unknown | str:
        """Instances of ``module.<name>``, an ``Unknown`` expansion, or why it is not read."""
        key = f"module.{name}"
        cached = self._memo.get(f"children:{key}")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        result = self._make_children(name)
        self._memo[f"children:{key}"] = result
        return result

    def _make_children(
        self, name: str, possible: Unknown | None = None
    ) -> list[ModuleInstance] | Unknown | str:
        """The instances of a module call; with ``possible`` (its count / for_each is unknown)
        one instance evaluated with ``each`` and ``count.index`` unknown, whose resources may
        not exist."""
        call = self.definition.calls[name]
        source = call.attributes.get("source")
        source_value = self.context(call.source).value(source.expr) if source else None
        if not isinstance(source_value, str):
            return "module source is not a literal string"
        definition = self.loader.load(self, call, source_value)
        if isinstance(definition, str):
            return definition
        meta = "for_each" if "for_each" in call.attributes else "count"
        if possible is None:
            expansion = self._expansion(call)
            if isinstance(expansion, Unknown):
                return expansion
            mode, items = expansion
        else:
            unknown = Unknown(f"module.{name}.{meta}", f"{meta} is unknown: {possible.describe()}")
            context = self.context(call.source).bind(
                each={"key": unknown, "value": unknown}, count={"index": unknown}
            )
            mode, items = "single", [(None, context)]
        anchor = self.anchor
        if anchor is None and not definition.user_code:
            anchor = Anchor(call.source.display, call.line, key_lines(call))
        instances = []
        for index, context in items:
            address = self._qualified(
                f"module.{name}" + ("" if mode == "single" else _index_suffix(index))
            )
            # Inputs are evaluated when the module reads them, as Terraform orders by
            # attribute: two modules may each read an output of the other.
            inputs: dict[str, Callable[[], Value]] = {
                attr_name: functools.partial(
                    context.with_source(attribute.source).value, attribute.expr
                )
                for attr_name, attribute in call.attributes.items()
                if attr_name not in CALL_ARGUMENTS
            }
            if definition.version is not None:
                inputs.setdefault(
                    "cniguard_module_version", functools.partial(str, definition.version)
                )
            instances.append(
                ModuleInstance(
                    definition,
                    address,
                    inputs,
                    self.loader,
                    anchor=anchor,
                    key=index,
                    root_display=self.root_display,
                    expansion=possible or self.expansion,
                    expanded_by=meta if possible else self.expanded_by,
                )
            )
        return instances

    def module_value(self, name: str) -> Value:
        if name not in self.definition.calls:
            raise EvalError(f"no module {name!r}")
        children = self.children(name)
        if isinstance(children, Unknown):
            return children
        if isinstance(children, str):
            return Unknown(f"module.{name}", children)
        call = self.definition.calls[name]
        values = [child.outputs() for child in children]
        if "count" in call.attributes:
            return values
        if "for_each" in call.attributes:
            return {str(child.key): v for child, v in zip(children, values, strict=True)}
        return values[0]

    def outputs(self) -> Namespace:
        def output(name: str) -> Value:
            block = self.definition.outputs.get(name)
            if block is None or "value" not in block.attributes:
                raise EvalError(f"module has no output {name!r}")
            attribute = block.attributes["value"]
            return self._memoised(
                f"output.{name}", lambda: self.context(attribute.source).value(attribute.expr)
            )

        return Namespace(f"{self.address}", output)

    # --- enumeration for the mapper ----------------------------------------------------------

    def origin_for(self, address: str, line: int | None, file: str) -> Origin:
        if self.definition.user_code or self.anchor is None:
            return Origin(source="iac", file=file, line=line)
        anchor = self.anchor
        for key, key_line in anchor.key_lines.items():
            if f'["{key}"]' in address:
                return Origin(source="iac", file=anchor.file, line=key_line)
        return Origin(source="iac", file=anchor.file, line=anchor.line)

    def walk(self) -> Iterator[ResourceInstance]:
        """Every instance of a mapped resource type here and in child modules."""
        for key, block in self.definition.resources.items():
            resource_type = block.labels[0]
            if resource_type not in MAPPED_TYPES:
                continue
            value = self.resource_value(resource_type, block.labels[1])
            expansion = value if isinstance(value, Unknown) else self.expansion
            own = "for_each" if "for_each" in block.attributes else "count"
            expanded_by = own if isinstance(value, Unknown) else self.expanded_by
            if isinstance(value, Unknown):
                value = self._possible_instance(block, key, value)
            objects = (
                value
                if isinstance(value, list)
                else (list(value.values()) if not isinstance(value, ResourceObject) else [value])
            )
            lines = {n: a.line for n, a in block.attributes.items() if a.line is not None}
            for nested in reversed(block.blocks):
                name = (
                    nested.labels[0]
                    if nested.type == "dynamic" and nested.labels
                    else (nested.type)
                )
                if nested.line is not None:
                    lines[name] = nested.line
            for obj in objects:
                origin = self.origin_for(obj.address, block.line, block.source.display)
                if not self.definition.user_code:
                    lines = {}
                yield ResourceInstance(
                    obj.address,
                    resource_type,
                    dict(obj),
                    origin,
                    lines,
                    self.definition.kind,
                    self.root_display,
                    expansion,
                    expanded_by,
                )
        for name, call in self.definition.calls.items():
            children = self.children(name)
            address = self._qualified(f"module.{name}")
            origin = self.origin_for(address, call.line, call.source.display)
            if isinstance(children, Unknown):
                # evaluated once: what it holds is reported as possibly existing
                children = self._make_children(name, children)
                if not isinstance(children, list):
                    self.problems.append(Problem(address, Unknown(address, str(children)), origin))
                    continue
            if isinstance(children, str):
                source = call.attributes.get("source")
                expr = call.source.snippet(source.expr) if source else f"module.{name}"
                self.problems.append(
                    Problem(
                        address,
                        Unknown(expr, children, origin.file, origin.line),
                        origin,
                        expr.strip('"'),
                        self._call_inputs(call),
                        self.root_display,
                    )
                )
                continue
            for child in children:
                yield from child.walk()
                self.problems.extend(child.problems)
                child.problems.clear()

    def _call_inputs(self, call: Block) -> tuple[tuple[str, Value], ...]:
        """The inputs of a module call that is not evaluated, in this module's context: once per
        instance, or once with ``each`` / ``count.index`` unknown when its expansion is."""
        expansion = self._expansion(call)
        if isinstance(expansion, Unknown):
            unknown = Unknown(f"module.{call.labels[0]}", f"expansion unknown: {expansion.expr}")
            contexts = [
                self.context(call.source).bind(
                    each={"key": unknown, "value": unknown}, count={"index": unknown}
                )
            ]
        else:
            contexts = [context for _, context in expansion[1]]
        return tuple(
            (name, context.with_source(attribute.source).value(attribute.expr))
            for context in contexts
            for name, attribute in call.attributes.items()
            if name not in CALL_ARGUMENTS
        )
