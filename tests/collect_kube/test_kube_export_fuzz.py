"""Property: no JSON value, however odd, makes read_export raise; what it cannot use is a Gap."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cniguard.collect.kube_parse import GAP_WHAT
from cniguard.collect.kubernetes import read_export
from cniguard.model.kube import KubeState

KINDS = ["DaemonSet", "ServiceAccount", "Pod", "Event", "Node", "ConfigMap", "List", "PodList"]
KEYS = [
    "metadata",
    "spec",
    "status",
    "items",
    "name",
    "namespace",
    "labels",
    "annotations",
    "containers",
    "env",
    "value",
    "containerStatuses",
    "state",
    "waiting",
    "reason",
    "phase",
    "conditions",
    "type",
    "data",
    "mapRoles",
    "involvedObject",
    "regarding",
    "series",
    "count",
    "lastTimestamp",
    "eventTime",
    "providerID",
    "template",
    "apiVersion",
    "kind",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from([*KINDS, "kube-system", "aws-node", "events.k8s.io/v1", "2025-06-02T10:00Z"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=30,
)
OBJECTS = st.builds(
    lambda kind, api, rest: {**rest, "kind": kind, "apiVersion": api},
    st.sampled_from(KINDS),
    st.sampled_from(["v1", "apps/v1", "events.k8s.io/v1"]),
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6),
)


def _read(document: Any) -> tuple[KubeState, list[Any]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.json"
        path.write_text(json.dumps(document))
        return read_export(path, cluster="c")


LISTS = st.lists(OBJECTS, max_size=3).map(lambda items: {"kind": "List", "items": items})


@settings(max_examples=150, deadline=None)
@given(JSON | OBJECTS | LISTS)
def test_read_export_never_raises(document: Any) -> None:
    state, gaps = _read(document)

    assert isinstance(state, KubeState)
    for name in ("daemonsets", "service_accounts", "pods", "events", "nodes", "aws_auth"):
        value = getattr(state, name)
        assert value is None or isinstance(value, tuple)
    unread = {GAP_WHAT[f] for f in GAP_WHAT if getattr(state, f) is None}
    assert unread <= {g.what for g in gaps}  # fail closed: every None is explained
