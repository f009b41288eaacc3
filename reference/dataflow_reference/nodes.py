"""Generate the workflow nodes of a model as real Kailash AsyncNode subclasses (the transaction nodes
shared by every model: transaction_nodes.py)."""

from typing import Any

from dataflow_conformance.contract.operations import CONTEXT_INPUT, TRANSACTION_INPUT
from kailash.nodes.base import NodeParameter, NodeRegistry
from kailash.nodes.base_async import AsyncNode
from kailash.sdk_exceptions import NodeValidationError

from .errors import TransactionError
from .model import ModelSpec
from .operations import BINDINGS, Binding
from .transactions import CONTEXT_KEY

# CONTEXT_INPUT: AsyncLocalRuntime has no workflow context of its own: execute_workflow_async(...,
# inputs={"workflow_context": {...}}) hands the same dict to every node as this input.
# TXN_INPUT orders the nodes of a transaction scope: the scope outputs it, every node accepts it, and a
# model node inside a scope passes it on, so `add_connection(a, "transaction_id", b, "transaction_id")`
# chains them.
TXN_INPUT = TRANSACTION_INPUT
_FRAMEWORK_INPUTS = {CONTEXT_INPUT, TXN_INPUT}


def register(cls, name: str) -> None:
    """Register under `name`; a new instance's model replaces an earlier one's node of the same name."""
    NodeRegistry.register(cls, alias=name, allow_override=True)


def _param(name: str, description: str) -> NodeParameter:
    # type=Any and required=False: Kailash would otherwise coerce values ("42" -> 42) and
    # reject inputs that arrive later through connections; validation is the model's job.
    return NodeParameter(name=name, type=Any, required=False, default=None, description=description)


class StrictNode(AsyncNode):
    """Strict inputs (unknown ones are errors), typed (not JSON-only) outputs, shared context."""

    parameters: dict[str, str] = {}
    subject = "DataFlow"  # names the model (or "transaction") in errors

    def get_parameters(self) -> dict[str, NodeParameter]:
        cached = type(self).__dict__.get("_parameter_objects")
        if cached is None:
            cached = {name: _param(name, text) for name, text in self.parameters.items()}
            cached[CONTEXT_INPUT] = _param(CONTEXT_INPUT, "workflow context (AsyncLocalRuntime inputs)")
            cached[TXN_INPUT] = _param(TXN_INPUT, "the open transaction scope (orders nodes inside it)")
            type(self)._parameter_objects = cached
        return cached

    def validate_inputs(self, **inputs) -> dict[str, Any]:
        # Kailash drops unknown inputs with a warning; a misspelt field must be an error instead.
        known = set(self.parameters) | _FRAMEWORK_INPUTS
        unknown = sorted(
            k for k in inputs if k not in known and k not in self._SPECIAL_PARAMS and not k.startswith("_")
        )
        if unknown:
            raise NodeValidationError(
                f"{self.subject}: unknown input(s) {unknown} for {type(self).__name__}; accepted: {sorted(self.parameters)}"
            )
        return {k: v for k, v in inputs.items() if k in known}

    def validate_outputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        # Records carry datetime / Decimal values on purpose: they round-trip as their Python types.
        if not isinstance(outputs, dict):
            raise NodeValidationError(f"{type(self).__name__} produced {type(outputs).__name__}, not a dict")
        return outputs

    def find_scope(self, db, context, inputs, *, required: bool):
        """The scope this node runs in: the transaction_id wired into it, else the workflow context's."""
        action = f"run {type(self).__name__}"
        wired = inputs.pop(TXN_INPUT, None)
        if wired is not None:
            if not isinstance(wired, str):
                raise TransactionError(f"{type(self).__name__}: transaction_id must be a string, got {wired!r}")
            return db.transactions.get(wired, action)
        from_context = context.get(CONTEXT_KEY)
        if from_context is not None and db is not None:
            # A scope that has ended without its commit or rollback node (timed out, rolled back on
            # error) fails the node: running it outside the scope would commit what the scope lost.
            return db.transactions.get(from_context, action)
        if required:
            raise TransactionError(f"{type(self).__name__}: no open transaction scope (wire its transaction_id in)")
        return None

    def shared_context(self, inputs) -> dict:
        context = inputs.pop(CONTEXT_INPUT, None)
        if isinstance(context, dict):
            return context
        context = getattr(self, "_workflow_context", None)
        return context if isinstance(context, dict) else {}


# What each documented node input means (the generated nodes' parameter descriptions).
INPUT_DESCRIPTIONS = {
    "id": "primary key of the record",
    "raise_on_not_found": "error when missing (default true)",
    "filter": "MongoDB-style filter (Update: {'id': ..., guard keys...})",
    "fields": "field values to set",
    "order_by": "['field', '-field'] or [{'field': 1 / -1}]",
    "limit": "page size",
    "offset": "rows to skip",
    "where": "field values identifying the record",
    "create": "values for a new record",
    "update": "values to change on an existing record",
    "conflict_on": "unique fields to match on (Upsert: the keys of where by default)",
    "data": "list of records",
    "batch_size": "records per statement (default 1000)",
    "confirmed": "required for an empty filter",
    "conflict_resolution": "'update' (default) or 'skip'",
}


class DataFlowNode(StrictNode):
    """Base of every generated model node: one documented operation of one model."""

    dataflow = None  # the DataFlow instance that generated the class
    model: ModelSpec = None
    binding: Binding = None

    @property
    def subject(self) -> str:
        return self.model.name

    async def async_run(self, **inputs) -> dict[str, Any]:
        context = self.shared_context(inputs)
        db = self.dataflow.instance_for(self.model.name, context.get("dataflow_instance"))
        scope = self.find_scope(db, context, inputs, required=False)
        arguments = self.binding.arguments(inputs)
        call = db.call_store(
            self.model.name,
            self.binding.method,
            arguments,
            bulk=self.binding.bulk,
            scope=scope,
            tenant=db.tenant_context.get_current_tenant(),  # read here: the caller's context
            caller=type(self).__name__,
        )
        # LocalRuntime's nodes run their I/O on the home loop
        output = self.binding.node_output(await db.runner.run(call, caller=self), arguments)
        return output if scope is None else {**output, TXN_INPUT: scope.id}


def generate_nodes(dataflow, spec: ModelSpec) -> dict[str, type]:
    """Create and register a `<Model><Node>Node` class per documented operation, bound to `dataflow`."""
    generated = {}
    for name, binding in BINDINGS.items():
        node_type = binding.operation.node_type(spec.name)
        if name == "create":  # the model's fields, flat
            parameters = ({"id": "primary key (declared on the model)"} if spec.id_supplied else {}) | {
                field_name: f"{field.kind} field" for field_name, field in spec.fields.items()
            }
        else:
            parameters = {input_name: INPUT_DESCRIPTIONS[input_name] for input_name in binding.operation.inputs}
        attrs = {
            "dataflow": dataflow,
            "model": spec,
            "binding": binding,
            "parameters": parameters,
            "__module__": __name__,
            "__doc__": f"{binding.operation.node} {spec.name} records ({spec.table_name}).",
        }
        cls = type(node_type, (DataFlowNode,), attrs)
        register(cls, node_type)
        generated[node_type] = cls
    return generated
