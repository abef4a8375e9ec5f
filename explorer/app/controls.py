"""The explorer's control widgets: one per `Config` field, built from the kernel registry and
the configuration schema (labels, tooltips, ranges and choices of the kernels' options), and
kept in step with the state (GQA ratios offered are exactly the divisors of num_heads;
seq_len's range follows max_seq_len; a control whose option the kernel lacks is disabled).

It holds no state of its own: `Controls.show(config)` sets the widgets from a configuration
without firing the app's handler, and `on_change` reports (field, value) pairs. The kernel list
ends with "PTX file"; `show_ptx_file` greys what applies to our kernels only.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from .. import schema
from ..kernels import KERNELS
from . import theme
from .state import (
    BACKEND_CHOICES,
    MAX_SEQ_LEN_CHOICES,
    PTX_FILE,
    Config,
    applicable_value,
    gqa_ratios,
)

# the controls that set a kernel option (disabled where the kernel has no such option)
KERNEL_CONTROLS = tuple(dict.fromkeys(o.control for o in schema.every_option() if o.control))

# three groups fit side by side in JupyterLab at 1280 px with the file browser open (the app
# is then 848 px wide, about 818 inside its padding)
LABEL_WIDTH = "90px"
GROUP_WIDTH = "264px"


def _layout() -> w.Layout:
    return w.Layout(width="262px")


def _style() -> dict[str, str]:
    return {"description_width": LABEL_WIDTH}


def labelled(text: str, widget: w.Widget, width: str = LABEL_WIDTH) -> w.HBox:
    """A widget with a label on its left, styled like ipywidgets' own descriptions (a
    ToggleButtons' description would wrap above it)."""
    label = w.HTML(
        f'<div style="text-align:right;padding-right:8px;font-size:var(--jp-widgets-font-size,'
        f'13px)">{theme.esc(text)}</div>',
        layout=w.Layout(width=width, min_width=width),
    )
    return w.HBox([label, widget], layout=w.Layout(align_items="center"))


def ratio_options(num_heads: int) -> list[tuple[str, int]]:
    """The GQA ratio dropdown: every divisor of num_heads, labelled with its KV heads."""
    return [(f"{r}  ({num_heads // r} KV head{'s' if num_heads // r > 1 else ''})", r)
            for r in gqa_ratios(num_heads)]


def _described(control: str) -> dict[str, str]:
    """A control's label and tooltip from the schema: help, accepted values, how the kernel
    picks its default, and the kernels that take it when not all do."""
    option = schema.control_option(control)
    accepted = ", ".join(w for w, _ in option.words) if option.words else option.accepted
    tip = f"{option.help} ({accepted})"
    if option.derived:
        tip += f"; {option.word(None) if option.words else 'default'}: {option.derived}"
    takers = [k for k, rows in schema.KERNEL_OPTIONS.items()
              if any(o.control == control for o in rows)]
    if takers and len(takers) < len(schema.KERNEL_OPTIONS):
        tip += f"; {', '.join(takers)} only"
    return {"description": option.title, "tooltip": tip}


class Controls:
    """The widgets, laid out in two rows, and their link to the app."""

    def __init__(self, config: Config) -> None:
        self._muted = False
        self._handler: Callable[[str, object], None] | None = None
        self.widgets: dict[str, w.ValueWidget] = {
            "kernel": w.Dropdown(options=[*KERNELS, PTX_FILE], description="kernel"),
            "head_dim": w.IntText(**_described("head_dim")),
            "num_warps": w.IntSlider(min=1, max=schema.MAX_WARPS,
                                     continuous_update=False, **_described("num_warps")),
            "num_heads": w.IntText(**_described("num_heads")),
            "gqa_ratio": w.Dropdown(options=ratio_options(config.num_heads),
                                    description="GQA ratio"),
            "max_seq_len": w.Dropdown(
                options=sorted({*MAX_SEQ_LEN_CHOICES, config.max_seq_len}),
                **_described("max_seq_len"),
            ),
            "seq_len": w.IntSlider(min=0, max=config.max_seq_len, description="seq_len",
                                   continuous_update=False),
            "indirect": w.Checkbox(indent=False, **_described("indirect")),
            "dtype": w.Dropdown(options=list(schema.control_option("dtype").choices),
                                **_described("dtype")),
            "mma": w.Dropdown(options=[word for word, _ in schema.control_option("mma").words],
                              **_described("mma")),
            "kv_dtype": w.Dropdown(
                options=[word for word, _ in schema.control_option("kv_dtype").words],
                **_described("kv_dtype")),
            "merge": w.Dropdown(options=list(schema.control_option("merge").choices),
                                **_described("merge")),
            "target": w.Dropdown(options=list(schema.TARGET.choices), **_described("target")),
            "backend": w.ToggleButtons(options=list(BACKEND_CHOICES),
                                       style={"button_width": "52px"},
                                       tooltips=["GPU when CuPy finds one, else the simulator",
                                                 "the CPU simulator of the PTX",
                                                 "the GPU through CuPy"]),
        }
        for name, widget in self.widgets.items():
            if name != "backend":
                widget.layout = _layout()
                widget.style = _style()
            else:
                widget.layout = w.Layout(width="auto")
            widget.add_class(f"explorer-control-{name.replace('_', '-')}")
            widget.observe(self._changed(name), names="value")
        self.widgets["indirect"].layout = w.Layout(width="170px", margin="4px 0 0 94px")
        self.backend_note = w.HTML()
        self.show(config)

    def _changed(self, name: str):
        def handler(change) -> None:
            if not self._muted and self._handler is not None:
                self._handler(name, change["new"])

        return handler

    def on_change(self, handler: Callable[[str, object], None]) -> None:
        self._handler = handler

    def show(self, config: Config) -> None:
        """Set every widget from `config` without reporting the changes."""
        self._muted = True
        try:
            ws = self.widgets
            for widget in ws.values():  # as `show_ptx_file` may have left them
                widget.disabled = False
            options = ratio_options(max(1, config.num_heads))
            if config.gqa_ratio not in [r for _, r in options]:  # explained in the views
                options.append((f"{config.gqa_ratio}  (impossible)", config.gqa_ratio))
            ws["gqa_ratio"].options = options
            ws["seq_len"].max = max(0, config.max_seq_len)
            for name, widget in ws.items():
                value = getattr(config, name)
                if widget.value != value:
                    widget.value = value
            enabled = {o.control for o in schema.KERNEL_OPTIONS.get(config.kernel, ())}
            for control in KERNEL_CONTROLS:
                if control in ws:
                    ws[control].disabled = control not in enabled
                    if control not in enabled:  # show what applies, not a stale value
                        value = applicable_value(config, control)
                        if value is not None and value != ws[control].value:
                            ws[control].value = value
        finally:
            self._muted = False

    def show_ptx_file(self, target: str) -> None:
        """PTX-file mode: the kernel list shows "PTX file", the target is ptxas' for the PTX,
        and every other control (our kernels' shape, sequence and backend) is greyed, saying
        why; `show(config)` afterwards restores the kernel mode."""
        self._muted = True
        try:
            self.widgets["kernel"].value = PTX_FILE
            self.widgets["target"].value = target
            for name, widget in self.widgets.items():
                widget.disabled = name not in ("kernel", "target")
        finally:
            self._muted = False
        self.backend_note.value = (
            f'<div style="{theme.NOTE};margin:4px 0 6px">PTX file: the greyed controls set our '
            "kernels only; the launch (grid, block, arguments, backend) is the run form's "
            "below, and target is ptxas' for the Resources tab.</div>")

    def set_backend_note(self, text: str) -> None:
        self.backend_note.value = (
            f'<div style="{theme.NOTE};margin:4px 0 6px">runs on → {theme.esc(text)}</div>'
        )

    def box(self) -> w.Widget:
        """Three groups side by side: the kernel, its shape, the sequence and backend."""
        ws = self.widgets
        groups = (
            ("kernel", ("kernel", "target", "dtype", "kv_dtype", "mma", "indirect")),
            ("shape", ("head_dim", "num_warps", "num_heads", "gqa_ratio")),
            ("sequence and backend", ("max_seq_len", "seq_len", "merge", "backend")),
        )
        columns = []
        for title, names in groups:
            heading = w.HTML(
                f'<div style="font-family:{theme.SANS};font-size:11px;font-weight:700;'
                f'letter-spacing:.06em;text-transform:uppercase;color:{theme.MUTED}">'
                f"{theme.esc(title)}</div>"
            )
            rows = [labelled("backend", ws[n]) if n == "backend" else ws[n] for n in names]
            last = title == groups[-1][0]
            column = w.VBox([heading, *rows], layout=w.Layout(
                width=GROUP_WIDTH, margin="0" if last else "0 12px 0 0"))
            column.add_class("explorer-group")
            columns.append(column)
        return w.VBox([w.HBox(columns, layout=w.Layout(flex_flow="row wrap")),
                       self.backend_note])
