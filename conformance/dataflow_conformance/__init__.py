"""dataflow_conformance: the DataFlow conformance pack, as a pytest plugin."""

__version__ = "0.1.0"
