"""A Cosmic Ray filter (the tool's own filter interface, like its `cr-filter-pragma`): mutants inside type
annotations are skipped.

`str | None` in a signature is evaluated when the function is defined; its mutant (`str + None`) fails the
module's import, a kill that says nothing about the pack. No annotation decides behaviour in the reference.
"""

import ast
from functools import cache
from pathlib import Path

from cosmic_ray.tools.filters.filter_app import FilterApp
from cosmic_ray.work_item import WorkerOutcome, WorkResult


@cache
def annotation_spans(path: Path) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    """(start, end) positions of every annotation in the module: (line, column), 1-based lines."""
    spans = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        found = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in found]
    return tuple(spans)


def in_annotation(path: Path, start: tuple[int, int], end: tuple[int, int]) -> bool:
    return any(s <= tuple(start) and tuple(end) <= e for s, e in annotation_spans(path))


class AnnotationFilter(FilterApp):
    def description(self):
        return __doc__

    def filter(self, work_db, _args):
        skipped = WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="annotation")
        for item in list(work_db.pending_work_items):
            if all(in_annotation(Path(m.module_path), m.start_pos, m.end_pos) for m in item.mutations):
                work_db.set_result(item.job_id, skipped)


def skip_annotations(session: Path) -> None:
    AnnotationFilter().main([str(session)])
