"""A self-contained HTML report in Swedish (jinja2): charts inline as SVG,
tables with N, method and suppression notes, period and catalogue version;
prints cleanly to PDF (print CSS, one table per page break where needed).

Each table's heading carries its title and N once; the page's header carries
the area and period, so the embedded charts leave them out."""

from __future__ import annotations

from collections.abc import Callable

import jinja2
from markupsafe import Markup

from exporters.summary import Summary
from exporters.writers.charts import chart_data, has_chart, render_chart, title_text
from exporters.writers.common import display_rows, method_notes, period_text, suppression_note

TEMPLATE = """<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
  body { font-family: "Segoe UI", Arial, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.4; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 2px solid #1f4e79; }
  h3 { font-size: 1.05rem; margin-bottom: .3rem; }
  .meta { color: #444; font-size: .9rem; }
  table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .85rem; }
  th, td { border: 1px solid #bbb; padding: .2rem .5rem; }
  th { background: #dde6f0; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .note { font-size: .8rem; color: #444; margin: .2rem 0; }
  figure { margin: .5rem 0; }
  figure svg { max-width: 100%; height: auto; }
  section.table { break-inside: avoid; page-break-inside: avoid; }
  @media print { body { margin: 0; max-width: none; } h2 { break-before: page; } a { color: inherit; } }
</style>
</head>
<body>
<header>
  <h1>{{ title }}</h1>
  <p class="meta">Omfattning: {{ scope }} · Period (aktualiserade ärenden): {{ period }} ·
  Katalogversion {{ summary.catalogue_version }} · Framställd {{ summary.generated_on.isoformat() }}</p>
  <p class="meta">Antal ärenden: {{ cases }}{% for reason, count in excluded %} · Undantagna ({{ reason }}): {{ count }}{% endfor %}</p>
</header>
<section>
  <h2 style="break-before: auto">Om sammanställningen</h2>
  {% for note in notes %}<p class="note">{{ note }}</p>{% endfor %}
  <p class="note"><strong>Röjandeskydd:</strong> {{ suppression }}</p>
  <p class="note">{{ summary.source.sv }}</p>
</section>
{% for section in sections %}
<h2>{{ section.title }}</h2>
{% for item in section.tables %}
<section class="table" id="{{ item.id }}">
  <h3>{{ item.title }}</h3>
  <p class="note">N: {{ item.denominator }}</p>
  {% if item.chart %}<figure>{{ item.chart }}</figure>{% endif %}
  <table>
    <thead><tr>{% for h in item.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>{% for row in item.rows %}<tr>{% for value in row %}<td{% if loop.index > item.first_number %} class="num"{% endif %}>{{ value }}</td>{% endfor %}</tr>{% endfor %}</tbody>
  </table>
  {% for note in item.notes %}<p class="note">{{ note }}</p>{% endfor %}
</section>
{% endfor %}
{% endfor %}
</body>
</html>
"""

_env = jinja2.Environment(loader=jinja2.DictLoader({"report.html": TEMPLATE}), autoescape=True)


def write_html(
    summary: Summary, *, charts: bool = True, on_table: Callable[[], None] | None = None
) -> bytes:
    """The report; ``on_table`` is called after each table (progress)."""
    sections: list[dict[str, object]] = []
    for table in summary.tables:
        header, rows = display_rows(summary, table)
        svg = ""
        if charts and has_chart(table):
            raw = render_chart(summary, table, "svg", standalone=False).decode("utf-8")
            svg = raw[raw.find("<svg") :]
        item = {
            "id": table.id,
            "title": title_text(table, chart_data(summary, table)),
            "denominator": table.spec.denominator.sv,
            "header": header,
            "rows": rows,
            "first_number": len(header) - 3,
            "chart": Markup(svg) if svg else "",  # noqa: S704 - our own matplotlib SVG
            "notes": [n.sv for n in table.spec.notes],
        }
        title = table.spec.section.sv
        if not sections or sections[-1]["title"] != title:
            sections.append({"title": title, "tables": []})
        sections[-1]["tables"].append(item)  # type: ignore[attr-defined]
        if on_table is not None:
            on_table()
    html = _env.get_template("report.html").render(
        title=f"Socialtjänstens stöd till våldsutsatta vuxna – {summary.scope.sv}",
        scope=summary.scope.sv,
        period=period_text(summary),
        summary=summary,
        cases=".." if summary.n_cases is None else summary.n_cases,
        excluded=[(r, ".." if c is None else c) for r, c in summary.excluded.items()],
        notes=[n.sv for n in (*method_notes(), *summary.notes)],
        suppression=suppression_note(summary).sv,
        sections=sections,
    )
    return html.encode("utf-8")
