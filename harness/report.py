"""The comparisons' reports read alike: the verdict words, and one list of blocks rendered as Markdown and
as HTML. A block is ("h1" | "h2" | "h3" | "p", text), ("ul", [items]), ("img", path, alt) or
("table", header, rows); text may hold `code`."""

import html

HOLDS, FAILS, UNKNOWN = "holds", "does not hold", "not measurable here"


def render_markdown(blocks, measured: dict[str, str] | None = None) -> str:
    """`measured`: the versions of what the report measured, recorded in its provenance line."""
    from dataflow_conformance.report.provenance import stamp

    out = [stamp(measured) + "\n"]
    for kind, *content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(kind[1])} {content[0]}\n")
        elif kind == "p":
            out.append(f"{content[0]}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in content[0]) + "\n")
        elif kind == "img":
            out.append(f"![{content[1]}]({content[0]})\n")
        elif kind == "table":
            header, rows = content
            cells = [header, ["---"] * len(header), *rows]
            out.append("\n".join("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells) + "\n")
    return "\n".join(out)


def render_html(blocks, title: str, measured: dict[str, str] | None = None) -> str:
    from dataflow_conformance.report.provenance import stamp

    def inline(text: str) -> str:  # the one Markdown construct the text uses: `code`
        parts = html.escape(text).split("`")
        return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

    body = []
    for kind, *content in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{inline(content[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{inline(content[0])}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in content[0]) + "</ul>")
        elif kind == "img":
            body.append(f'<p><img src="{html.escape(content[0])}" alt="{html.escape(content[1])}"></p>')
        elif kind == "table":
            header, rows = content
            head = "".join(f"<th>{inline(c)}</th>" for c in header)
            cells = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top;font-size:90%}th{background:#f3f3f3}img{max-width:100%}"
    )
    return (
        f"<!doctype html>\n{stamp(measured)}\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
