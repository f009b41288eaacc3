"""Generate the workflow nodes of a model as real Kailash AsyncNode subclasses."""

from typing import Any

from kailash.nodes.base import NodeParameter, NodeRegistry
from kailash.nodes.base_async import AsyncNode
from kailash.sdk_exceptions import NodeValidationError

from .model import ModelSpec


def _param(name: str, description: str, default=None) -> NodeParameter:
    # type=Any and required=False: Kailash would otherwise coerce values ("42" -> 42) and
    # reject inputs that arrive later through connections; validation is the model's job.
    return NodeParameter(name=name, type=Any, required=False, default=default, description=description)


class DataFlowNode(AsyncNode):
    """Base of every generated node: strict inputs, typed (not JSON-only) outputs."""

    dataflow = None  # the DataFlow instance that generated the class
    model: ModelSpec = None
    operation: str = ""
    parameters: dict[str, str] = {}

    def get_parameters(self) -> dict[str, NodeParameter]:
        return {name: _param(name, text) for name, text in self.parameters.items()}

    def validate_inputs(self, **inputs) -> dict[str, Any]:
        # Kailash drops unknown inputs with a warning; a misspelt field must be an error instead.
        known = set(self.parameters)
        unknown = sorted(k for k in inputs if k not in known and k not in self._SPECIAL_PARAMS and not k.startswith("_"))
        if unknown:
            raise NodeValidationError(
                f"{self.model.name}: unknown input(s) {unknown} for {type(self).__name__}; accepted: {sorted(known)}"
            )
        return {k: v for k, v in inputs.items() if k in known}

    def validate_outputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        # Records carry datetime / Decimal values on purpose: they round-trip as their Python types.
        if not isinstance(outputs, dict):
            raise NodeValidationError(f"{type(self).__name__} produced {type(outputs).__name__}, not a dict")
        return outputs

    async def async_run(self, **inputs) -> dict[str, Any]:
        db = self.dataflow.instance_for(self.model.name, self.get_workflow_context("dataflow_instance"))
        return await db.runner.run(self._on_home_loop(db, inputs))

    async def _on_home_loop(self, db, inputs):
        return await self.call(await db.store(self.model.name), inputs)

    async def call(self, store, inputs):
        raise NotImplementedError


class CreateNode(DataFlowNode):
    operation = "create"

    async def call(self, store, inputs):
        return await store.create(inputs)


class ReadNode(DataFlowNode):
    operation = "read"
    parameters = {"id": "primary key of the record", "raise_on_not_found": "error when missing (default true)"}

    async def call(self, store, inputs):
        return await store.read(inputs.get("id"), inputs.get("raise_on_not_found", True))


class UpdateNode(DataFlowNode):
    operation = "update"
    parameters = {"filter": "{'id': ..., guard keys...}", "fields": "field values to set"}

    async def call(self, store, inputs):
        return await store.update(inputs.get("filter"), inputs.get("fields"))


class DeleteNode(DataFlowNode):
    operation = "delete"
    parameters = {"id": "primary key of the record"}

    async def call(self, store, inputs):
        return await store.delete(inputs.get("id"))


class ListNode(DataFlowNode):
    operation = "list"
    parameters = {"filter": "MongoDB-style filter", "order_by": "['field', '-field']", "limit": "page size", "offset": "rows to skip"}

    async def call(self, store, inputs):
        return await store.list(inputs.get("filter"), inputs.get("order_by"), inputs.get("limit"), inputs.get("offset", 0))


class CountNode(DataFlowNode):
    operation = "count"
    parameters = {"filter": "MongoDB-style filter"}

    async def call(self, store, inputs):
        return await store.count(inputs.get("filter"))


class UpsertNode(DataFlowNode):
    operation = "upsert"
    parameters = {
        "where": "field values identifying the record",
        "create": "values for a new record",
        "update": "values to change on an existing record",
        "conflict_on": "unique fields to match on (default: the keys of where)",
    }

    async def call(self, store, inputs):
        return await store.upsert(inputs.get("where"), inputs.get("create"), inputs.get("update"), inputs.get("conflict_on"))


NODE_KINDS = {"Create": CreateNode, "Read": ReadNode, "Update": UpdateNode, "Delete": DeleteNode,
              "List": ListNode, "Count": CountNode, "Upsert": UpsertNode}


def generate_nodes(dataflow, spec: ModelSpec) -> dict[str, type]:
    """Create and register `<Model><Kind>Node` classes bound to `dataflow`."""
    generated = {}
    for kind, base in NODE_KINDS.items():
        name = f"{spec.name}{kind}Node"
        attrs = {"dataflow": dataflow, "model": spec, "__module__": __name__,
                 "__doc__": f"{kind} {spec.name} records ({spec.table_name})."}
        if base is CreateNode:
            fields = ({"id": "primary key (declared on the model)"} if spec.id_supplied else {}) | {
                name: f"{field.kind} field" for name, field in spec.fields.items()
            }
            attrs["parameters"] = fields
        cls = type(name, (base,), attrs)
        NodeRegistry.register(cls, alias=name, allow_override=True)
        generated[name] = cls
    return generated
