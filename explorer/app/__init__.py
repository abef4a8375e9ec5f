"""The explorer app: an ipywidgets UI over the emitter, ptxas, the runtime and the plots.

`from explorer.app import Explorer; Explorer()` displays it in a notebook. The widget-free
parts (`state`, `highlight`, `diff`, `occupancy`, `resources`, `runner`, `render`,
`snapshot`, and the PTX-file mode's `foreign`, `foreign_session`, `foreign_panes`) import
without a frontend; `Explorer` is imported on first use, so
`explorer.app.state` needs no ipywidgets. Nothing in the package imports the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import Config
    from .widget import Explorer

__all__ = ["Config", "Explorer"]


def __getattr__(name: str):
    if name == "Explorer":
        from .widget import Explorer

        return Explorer
    if name == "Config":
        from .state import Config

        return Config
    raise AttributeError(f"module 'explorer.app' has no attribute {name!r}")
