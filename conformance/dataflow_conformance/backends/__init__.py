"""The databases a run uses: what the project knows of each backend (registry), where its servers are
(resolve), the databases the kit owns there (provision), and its independent view of them (Probe)."""


def __getattr__(name):
    # Probe imports SQLAlchemy; the pytest options read the registry without it (PEP 562: loaded on use).
    if name == "Probe":
        from .probe import Probe

        return Probe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Probe"]
