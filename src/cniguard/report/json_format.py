"""The ``cniguard.report/v1`` JSON document."""

from __future__ import annotations

import json

from cniguard.model.finding import Report


def render(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"
