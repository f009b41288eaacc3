"""The databases a run uses: what the kit knows of each backend (features), where its servers are
(resolve), the databases it owns there (provision), and its independent view of them (Probe)."""

from .probe import Probe

__all__ = ["Probe"]
