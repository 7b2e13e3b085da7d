"""One standalone HTML page: KPI tiles, clusters, findings with evidence and remediation.

No external assets and no script: the page opens offline, from a mail attachment or a CI
artifact store. Jinja2 autoescapes every value (tag values and resource names are
attacker-controlled), and the Content-Security-Policy forbids anything but inline styles, so an
injected tag could not load or run anything even if escaping were ever bypassed.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

from cniguard.model.finding import SEVERITIES, Finding, Report
from cniguard.report.summary import (
    by_severity,
    cluster_rows,
    count,
    facts,
    gap_lines,
    is_suppressed,
    location_text,
    percent,
    rule_list,
    section_counts,
    status_text,
    summarize,
)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cniguard report {{ report.generated_at }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:1.5rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}
.meta{color:#59636e}
.tiles{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.tile{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.tile b{display:block;font-size:1.5rem}.tile span{color:#59636e}
.tile.bad{border-color:#cf222e}.tile.warn{border-color:#bf8700}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.name{white-space:nowrap}
.yes{color:#1a7f37;font-weight:600}.no{color:#cf222e;font-weight:600}
.unknown{color:#9a6700;font-weight:600}.na{color:#59636e}
.sev{display:inline-block;border-radius:4px;padding:0 .4rem;color:#fff;font-size:.8rem}
.sev-critical{background:#82071e}.sev-high{background:#cf222e}.sev-medium{background:#9a6700}
.sev-low{background:#0969da}.sev-info{background:#59636e}
.finding{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .9rem;margin:.6rem 0}
.finding.suppressed{opacity:.7}
.finding h4{margin:0 0 .3rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.3rem 0}
dt{color:#59636e}dd{margin:0;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;white-space:pre-wrap;margin:0}
</style>
</head>
<body>
<h1>cniguard report</h1>
<p class="meta">Generated {{ report.generated_at }} by cniguard {{ report.tool_version }}
({{ report.kind }}).</p>

<section class="tiles" aria-label="Key figures">
{%- for tile in tiles %}
<div class="tile {{ tile.tone }}"><b>{{ tile.value }}</b><span>{{ tile.label }}</span></div>
{%- endfor %}
</section>

<h2>Summary</h2>
<dl>
{%- for label, value in facts %}
<dt>{{ label }}</dt><dd>{{ value }}</dd>
{%- endfor %}
</dl>
{%- if gaps %}
<h3>Coverage gaps</h3>
<ul>
{%- for gap in gaps %}
<li>{{ gap }}</li>
{%- endfor %}
</ul>
{%- endif %}

<h2>Clusters</h2>
<table>
<thead><tr><th>Cluster</th><th>Account</th><th>Region</th><th>Environment</th>
<th>CNI identity</th><th>Basis</th><th>Compliant</th><th>Failing rules</th><th>Unknown</th></tr></thead>
<tbody>
{%- for row in clusters %}
<tr><td class="name" title="{{ row.arn }}">{{ row.name }}</td><td>{{ row.account or "-" }}</td>
<td>{{ row.region or "-" }}</td><td>{{ row.environment or "-" }}</td>
<td>{{ row.cni_identity or "unknown" }}</td><td>{{ row.basis or "-" }}</td>
<td class="{{ compliant_class[row.compliant] }}">{{ row.compliant }}</td>
<td>{{ row.failing_rules or "-" }}</td><td>{{ row.unknown_rules or "-" }}</td></tr>
{%- endfor %}
</tbody>
</table>

<h2>Findings</h2>
{%- for severity, counts, group in groups %}
<h3><span class="sev sev-{{ severity }}">{{ severity }}</span> {{ counts }}</h3>
{%- for f in group %}
<article class="finding{{ ' suppressed' if f.suppressed else '' }}">
<h4>{{ f.rule_id }} · {{ f.title }}</h4>
<dl>
<dt>Status</dt>
<dd class="{{ 'unknown' if f.status == 'unknown' else 'no' }}">{{ f.status_text }}</dd>
<dt>Cluster</dt><dd>{{ f.cluster }}</dd>
<dt>Resource</dt><dd>{{ f.resource }}</dd>
{%- if f.location %}
<dt>Location</dt><dd>{{ f.location }}</dd>
{%- endif %}
<dt>Message</dt><dd>{{ f.message }}</dd>
{%- if f.evidence %}
<dt>Evidence</dt><dd><pre>{{ f.evidence }}</pre></dd>
{%- endif %}
{%- if f.remediation %}
<dt>Remediation</dt><dd>{{ f.remediation }}</dd>
{%- endif %}
<dt>Fingerprint</dt><dd><code>{{ f.fingerprint }}</code></dd>
</dl>
</article>
{%- endfor %}
{%- else %}
<p>No failing or undecided checks.</p>
{%- endfor %}
<p class="meta">{{ passing }} passing check(s) not listed.</p>
</body>
</html>
"""


@cache
def _template() -> Template:
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(TEMPLATE)


def render(report: Report) -> str:
    return _template().render(**_context(report))


def _context(report: Report) -> dict[str, Any]:
    s = summarize(report)
    names = {c.arn: c.name for c in report.clusters}
    open_sev = dict(s.open_by_severity)
    severe = open_sev["critical"] + open_sev["high"]
    tiles = [
        {"label": "clusters", "value": s.clusters, "tone": ""},
        {
            "label": "IRSA compliance",
            "value": percent(s.irsa_compliance_pct),
            "tone": "bad" if s.non_compliant else "",
        },
        {"label": "open critical/high", "value": severe, "tone": "bad" if severe else ""},
        {"label": "open findings", "value": s.open_total, "tone": "warn" if s.open_total else ""},
        {
            "label": "unknown results",
            "value": s.unknown_findings,
            "tone": "warn" if s.unknown_findings else "",
        },
        {
            "label": "coverage gaps",
            "value": count(s.gaps),
            "tone": "warn" if s.gaps else "",
        },
        {"label": "suppressed", "value": s.suppressed, "tone": ""},
        {
            "label": "expired suppressions",
            "value": s.expired_suppressions,
            "tone": "warn" if s.expired_suppressions else "",
        },
    ]
    clusters = [
        {
            "name": row.name,
            "arn": row.arn,
            "account": row.account,
            "region": row.region,
            "environment": row.environment,
            "cni_identity": row.cni_identity,
            "basis": row.basis,
            "compliant": row.compliant,
            "failing_rules": rule_list(row.failing),
            "unknown_rules": rule_list(row.unknown),
        }
        for row in cluster_rows(report)
    ]
    shown = [f for f in report.findings if f.status != "pass"]
    groups = []
    for severity in SEVERITIES:
        group = by_severity([f for f in shown if f.severity == severity])
        if group:
            views = [_finding_view(f, names) for f in group]
            groups.append((severity, section_counts(group), views))
    return {
        "csp": CSP,
        "report": report,
        "tiles": tiles,
        "facts": facts(report),
        "gaps": gap_lines(report),
        "clusters": clusters,
        "compliant_class": {"yes": "yes", "no": "no", "unknown": "unknown", "n/a": "na"},
        "groups": groups,
        "passing": len(report.findings) - len(shown),
    }


def _finding_view(finding: Finding, names: dict[str, str]) -> dict[str, Any]:
    cluster = names.get(finding.cluster)
    evidence = json.dumps(finding.evidence, indent=2, sort_keys=True, ensure_ascii=False)
    return {
        "rule_id": finding.rule_id,
        "title": finding.title,
        "status": finding.status,
        "status_text": status_text(finding),
        "suppressed": is_suppressed(finding),
        "cluster": f"{cluster} ({finding.cluster})" if cluster else finding.cluster,
        "resource": finding.resource,
        "location": location_text(finding),
        "message": finding.message,
        "evidence": evidence if finding.evidence else "",
        "remediation": finding.remediation,
        "fingerprint": finding.fingerprint,
    }
