"""Blocks that define again what an earlier block of the page defined, run as a reader runs them.

A page shows `workflow.add_node("UserCreateNode", "create", {...})` in one section and again, with other
parameters, in the next: two examples, not one workflow with a node added twice. It declares
`class User(Base): __tablename__ = "users"`, or `@db.model class User`, for one example and again for
another. A reader running the second example starts it afresh; run in one namespace, the second raises
"Node ID 'create' already exists", "Table 'users' is already defined" or "Model 'User' is already
registered", which says nothing about the docs. Before such a block runs, `prepare` gives it what the
reader has: a new, empty workflow builder under the same name, the metadata without the old table, or a
new DataFlow instance made with the same arguments as the old one (the old one is closed, as the
earlier example's program would have ended). The report says so for the block.
(A block that adds the same node twice itself is not prepared for: that block fails as written.)
"""

import ast
import contextlib
import weakref

# DataFlow instance -> (args, kwargs) it was made with, recorded by page.py; a redefined model needs a new one
CONSTRUCTIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def record_constructions(dataflow_class) -> None:
    """Remember how each instance of the implementation's DataFlow class was made."""
    original = dataflow_class.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        try:
            CONSTRUCTIONS[self] = (args, kwargs)
        except TypeError:  # an instance that cannot be weakly referenced is simply not renewed
            pass

    dataflow_class.__init__ = __init__


def prepare(tree: ast.Module, namespace: dict) -> list[str]:
    """Make the namespace ready for a block that redefines; notes saying what was done."""
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return (
        _fresh_workflows(tree, namespace, assigned)
        + _tables_declared_again(tree, namespace)
        + _models_declared_again(tree, namespace, assigned)
    )


def _models_declared_again(tree: ast.Module, namespace: dict, assigned: set[str]) -> list[str]:
    notes = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if not (
                isinstance(target, ast.Attribute) and target.attr == "model" and isinstance(target.value, ast.Name)
            ):
                continue
            name = target.value.id
            instance = namespace.get(name)
            if name in assigned or instance not in CONSTRUCTIONS or node.name not in _model_names(instance):
                continue
            args, kwargs = CONSTRUCTIONS[instance]
            with contextlib.suppress(Exception):  # the earlier example's program has ended: its instance closes
                instance.close()
            namespace[name] = type(instance)(*args, **kwargs)
            notes.append(f"a new `{name}` (DataFlow, same arguments): the block declares model {node.name!r} again")
    return notes


def _model_names(instance) -> set[str]:
    for attribute in ("list_models", "models", "_models"):
        value = getattr(instance, attribute, None)
        try:
            return set(value() if callable(value) else value or ())
        except Exception:  # noqa: BLE001 - an implementation without this attribute: try the next
            continue
    return set()


def _fresh_workflows(tree: ast.Module, namespace: dict, assigned: set[str]) -> list[str]:
    notes = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "add_node"):
            continue
        target = call.func.value
        if not isinstance(target, ast.Name) or target.id in assigned:
            continue
        builder = namespace.get(target.id)
        node_id = _node_id(call)
        nodes = getattr(builder, "nodes", None)
        if node_id is None or not isinstance(nodes, dict) or node_id not in nodes:
            continue
        namespace[target.id] = type(builder)()
        notes.append(
            f"a new `{target.id}` ({type(builder).__name__}): the block adds node {node_id!r} again, "
            "as a separate example"
        )
    return notes


def _node_id(call: ast.Call) -> str | None:
    """The node id of `builder.add_node(type, id, params)` (or `node_id=`), when it is a literal."""
    candidates = [kw.value for kw in call.keywords if kw.arg == "node_id"]
    if len(call.args) >= 2:
        candidates.append(call.args[1])
    for value in candidates:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def _tables_declared_again(tree: ast.Module, namespace: dict) -> list[str]:
    """`class X(Base): __tablename__ = "t"` and `Table("t", metadata, ...)` for a table the metadata
    already holds: the old table leaves the metadata, as in a new program."""
    notes = []
    for node in ast.walk(tree):
        table, holder = None, None
        if isinstance(node, ast.ClassDef):
            table = _class_table_name(node)
            bases = [base.id for base in node.bases if isinstance(base, ast.Name)]
            holder = next((getattr(namespace.get(b), "metadata", None) for b in bases if b in namespace), None)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Table":
            if len(node.args) >= 2 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[1], ast.Name):
                table, holder = node.args[0].value, namespace.get(node.args[1].id)
        tables = getattr(holder, "tables", None)
        if isinstance(table, str) and tables is not None and table in tables:
            holder.remove(tables[table])
            notes.append(f"table {table!r} declared again: the earlier declaration was removed from its metadata")
    return notes


def _class_table_name(node: ast.ClassDef) -> str | None:
    for statement in node.body:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in statement.targets)
            and isinstance(statement.value, ast.Constant)
        ):
            return statement.value.value
    return None
