"""The widgets of the app's "PTX file" mode: the source row under the controls (a box to paste
PTX, a path field and Load, the entry dropdown) and the run form, one compact row per
parameter of the entry (an array's dtype, shape and fill, or a number), then grid, block,
dynamic shared bytes and backend.

It holds no state of its own: `PtxSourceRow.show(source, form)` sets the widgets from a
`RunForm` without reporting the changes, and `read_form()` builds one from the widgets; the
app's handlers get the text or path to open, the entry chosen, and the edited form.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..run_ptx import DTYPES
from . import theme
from .foreign import BACKENDS, FILL_CHOICES, ParamField, PtxSource, RunForm

NAME_WIDTH = "230px"
FIELD = {"description_width": "48px"}


def _text(description: str, width: str, tooltip: str = "") -> w.Text:
    return w.Text(description=description, tooltip=tooltip, continuous_update=False,
                  style=FIELD, layout=w.Layout(width=width))


class ParamRow:
    """One parameter's widgets: kind (64-bit parameters: array or number), dtype, shape,
    fill (a fill word, null or a .npy path) or value."""

    def __init__(self, row: ParamField, changed: Callable[[], None]) -> None:
        self.name, self.ptx_type = row.name, row.ptx_type
        name = theme.esc(row.name)
        self.label = w.HTML(f'<div style="{theme.NOTE};color:{theme.INK};white-space:nowrap;'
                            f'overflow:hidden;text-overflow:ellipsis" title="{name}">'
                            f"<b>{name}</b> .{theme.esc(row.ptx_type)}</div>",
                            layout=w.Layout(width=NAME_WIDTH, min_width=NAME_WIDTH))
        self.kind = w.ToggleButtons(options=["array", "number"], style={"button_width": "72px"},
                                    layout=w.Layout(width="auto"),
                                    tooltips=["a buffer: dtype, shape and fill",
                                              "a 64-bit number (a size_t), not a pointer"])
        self.dtype = w.Dropdown(options=list(DTYPES), layout=w.Layout(width="70px"))
        self.shape = _text("shape", "150px", "sizes joined by x: 1024, 32x8")
        self.fill = w.Combobox(options=list(FILL_CHOICES), description="fill", style=FIELD,
                               ensure_option=False, continuous_update=False,
                               layout=w.Layout(width="200px"),
                               tooltip="randn, rand, randint, arange, zeros, ones, full=V, "
                                       "null, or a .npy path")
        self.value = _text("value", "200px", "a number: 512, 0x10, -1, 2.5")
        self.box = w.HBox([self.label], layout=w.Layout(align_items="center"))
        self.box.add_class("explorer-ptx-param")
        self.show(row)
        for widget in (self.kind, self.dtype, self.shape, self.fill, self.value):
            widget.observe(lambda change: changed(), names="value")

    def show(self, row: ParamField) -> None:
        self.kind.value = row.kind
        self.dtype.value = row.dtype if row.dtype in DTYPES else "f32"
        self.shape.value, self.fill.value, self.value.value = row.shape, row.fill, row.value
        self._arrange()

    def _arrange(self) -> None:
        pointer = ParamField(self.name, self.ptx_type).pointer
        kind = [self.kind] if pointer else []
        fields = [self.dtype, self.shape, self.fill] if self.kind.value == "array" else [
            self.value]
        children = (self.label, *kind, *fields)
        if tuple(self.box.children) != children:
            self.box.children = children

    def read(self) -> ParamField:
        self._arrange()
        kind = self.kind.value if ParamField(self.name, self.ptx_type).pointer else "number"
        return ParamField(self.name, self.ptx_type, kind, self.dtype.value, self.shape.value,
                          self.fill.value, self.value.value)


class PtxSourceRow:
    """The source row and run form; `box` is hidden until the app enters PTX-file mode."""

    def __init__(self) -> None:
        self._muted = False
        self.on_open: Callable[[str], None] = lambda text: None
        self.on_entry: Callable[[str], None] = lambda name: None
        self.on_form: Callable[[RunForm], None] = lambda form: None
        self.paste = w.Textarea(placeholder="paste PTX here (nvcc -ptx, Triton, any emitter), "
                                "(it opens when the box loses focus, or on Open pasted)",
                                continuous_update=False,
                                layout=w.Layout(width="100%", height="96px"))
        self.paste.add_class("explorer-ptx-paste")
        self.open_button = w.Button(description="Open pasted", icon="file-code-o",
                                    layout=w.Layout(width="130px"))
        self.path = w.Text(placeholder="path/to/kernel.ptx", description="or path",
                           style=FIELD, layout=w.Layout(width="380px"))
        self.path.add_class("explorer-ptx-path")
        self.load_button = w.Button(description="Load", icon="folder-open",
                                    layout=w.Layout(width="90px"))
        self.status = w.HTML(layout=w.Layout(width="auto"))
        self.entry = w.Dropdown(description="entry", style=FIELD,
                                layout=w.Layout(width="380px"))
        self.entry.add_class("explorer-ptx-entry")
        self.grid = _text("grid", "140px", "CTAs: x[,y[,z]]")
        self.block = _text("block", "140px", "threads per CTA: x[,y[,z]]")
        self.shared = _text("shared", "150px", "dynamic shared memory bytes (extern .shared)")
        self.backend = w.Dropdown(options=list(BACKENDS), description="backend",
                                  style={"description_width": "56px"},
                                  layout=w.Layout(width="170px"))
        self.params = w.VBox()
        self.rows: list[ParamRow] = []
        self._wire()
        launch = w.HBox([self.grid, self.block, self.shared, self.backend],
                        layout=w.Layout(flex_flow="row wrap"))
        self.box = w.VBox([
            w.HBox([self.paste], layout=w.Layout(width="100%")),
            w.HBox([self.open_button, self.path, self.load_button, self.status],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            self.entry, self.params, launch,
        ], layout=w.Layout(display="none", margin="6px 0 4px", padding="6px 0 0",
                           border_top=f"1px solid {theme.BORDER}"))
        self.box.add_class("explorer-ptx-source")

    def _wire(self) -> None:
        self.open_button.on_click(lambda _: self._open(self.paste.value))
        self.paste.observe(lambda change: self._open(change["new"]), names="value")  # on blur
        self.load_button.on_click(lambda _: self._open(self.path.value.strip()))
        self.path.observe(lambda change: self._open(change["new"].strip()), names="value")
        self.entry.observe(self._entry_changed, names="value")
        for widget in (self.grid, self.block, self.shared, self.backend):
            widget.observe(lambda change: self._form_changed(), names="value")

    def _open(self, text: str) -> None:
        if not self._muted and text:
            self.on_open(text)

    def _entry_changed(self, change) -> None:
        if not self._muted and change["new"]:
            self.on_entry(change["new"])

    def _form_changed(self) -> None:
        if not self._muted:
            self.on_form(self.read_form())

    def visible(self, shown: bool) -> None:
        self.box.layout.display = "flex" if shown else "none"

    def say(self, html: str) -> None:
        self.status.value = html

    def show(self, source: PtxSource | None, form: RunForm | None) -> None:
        """Set the widgets from the form, without reporting the changes; the parameter rows
        are rebuilt only when the entry's parameters differ."""
        self._muted = True
        try:
            self.entry.options = list(source.entries) if source else []
            self.entry.value = form.entry if form else None
            if form is None:
                self.params.children, self.rows = (), []
                return
            if [(r.name, r.ptx_type) for r in self.rows] != [(p.name, p.ptx_type)
                                                             for p in form.params]:
                self.rows = [ParamRow(p, self._form_changed) for p in form.params]
                self.params.children = [r.box for r in self.rows]
            else:
                for row, param in zip(self.rows, form.params, strict=True):
                    row.show(param)
            self.grid.value, self.block.value = form.grid, form.block
            self.shared.value, self.backend.value = form.shared_bytes, form.backend
        finally:
            self._muted = False

    def read_form(self) -> RunForm:
        """The form as the widgets show it (validated later, field by field)."""
        return RunForm(self.entry.value or "", tuple(r.read() for r in self.rows),
                       self.grid.value, self.block.value, self.shared.value,
                       self.backend.value)
