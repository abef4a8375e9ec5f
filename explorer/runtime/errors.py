"""Errors of the runtime that do not need CuPy to be raised or caught."""


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (no CuPy, no GPU), with what to do about it."""
