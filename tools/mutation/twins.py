"""A pytest plugin for the mutants of a module that runs beneath the access paths (`Target.twins`): a test that
runs on `local` and on `async`, or on `express` and on `express_sync`, runs on the first only.

The twins reach the module with the same calls: `async` runs the same generated node as `local` (its
`async_run` instead of `run`, with the same parameters), and `express_sync` is `express` driven to completion
on the instance's runner (reference/dataflow_reference/express.py, ExpressSync). What differs between twins is
which event loop runs the call (runner.py, nodes.py), which such a module never decides; a mutant of it gives
the same answer on both, so the twin's run adds time and no verdict. A test that runs only on a twin (its
`paths` marker names `async` or `express_sync` but not its partner) still runs there.
"""

import pytest

TWINS = {"async": "local", "express_sync": "express"}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    present = {item.nodeid for item in items}
    kept, dropped = [], []
    for item in items:
        path = item.callspec.params.get("flow") if hasattr(item, "callspec") else None
        twin = TWINS.get(path)
        twin_id = item.nodeid.replace(f"-{path}", f"-{twin}", 1) if twin else None
        (dropped if twin_id in present else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
