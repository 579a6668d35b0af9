"""One theme for every deliverable and figure: brand colours, RAG status, quadrants, type.

The deck, the segmentation workbook, the KPI dashboard, the HTML dashboard and every
matplotlib figure take their colours and fonts from :class:`Theme`, built from the
client's branding (``params.branding``) by :func:`theme_for`. The portfolio matrix is drawn
one way everywhere (:data:`MATRIX`): relative strength across, attractiveness up, each
quadrant in the colour of its position.

Colours are hex strings without ``#`` (openpyxl and python-pptx take them that way);
:meth:`Theme.css` and :func:`hex_css` give the ``#RRGGBB`` form for HTML and matplotlib.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Theme", "theme_for", "use_theme", "active_theme", "MATRIX", "QUADRANT_POSITIONS", "RAG_STATUSES", "hex_css", "tint"]

RAG_STATUSES = ("green", "amber", "red", "n/a")
# quadrant position keys, in matrix order (as params.segmentation.quadrant_names.ordered())
QUADRANT_POSITIONS = ("high_attractiveness_high_strength", "high_attractiveness_low_strength",
                      "low_attractiveness_high_strength", "low_attractiveness_low_strength")


@dataclass(frozen=True)
class MatrixLayout:
    """How the KAM portfolio matrix is drawn, in every deliverable and figure."""

    x: str = "relative_strength"
    y: str = "attractiveness"
    x_title: str = "Relative strength of the relationship"
    y_title: str = "Account attractiveness"
    # where each quadrant sits, in matrix order: (right?, top?)
    corners: tuple[tuple[bool, bool], ...] = ((True, True), (False, True), (True, False), (False, False))


MATRIX = MatrixLayout()


def hex_css(color: str) -> str:
    """``0B2545`` -> ``#0B2545``."""
    return "#" + color.lstrip("#").upper()


def tint(color: str, amount: float) -> str:
    """Mix ``color`` with white: ``amount`` 0 keeps it, 1 gives white."""
    c = color.lstrip("#")
    rgb = [int(c[i:i + 2], 16) for i in (0, 2, 4)]
    return "".join(f"{round(v + (255 - v) * amount):02X}" for v in rgb)


@dataclass(frozen=True)
class Theme:
    """Colours and fonts; build it with :func:`theme_for` so the client's branding applies."""

    primary: str = "0B2545"
    accent: str = "13A89E"
    text: str = "1F2933"
    muted: str = "5D6D7E"
    grid: str = "D9DDE3"
    light: str = "F2F4F7"
    highlight: str = "EEB902"
    # status colours: strong for marks, text and borders; light fills for table cells
    green: str = "2E7D32"
    amber: str = "C77700"
    red: str = "B42318"
    na: str = "98A2B3"
    green_fill: str = "C6EFCE"
    amber_fill: str = "FFEB9C"
    red_fill: str = "FFC7CE"
    na_fill: str = "EEF0F3"
    extra: tuple[str, ...] = ("8DA9C4", "EEB902", "C0392B", "5D6D7E", "7FB069")
    heading_font: str = "Calibri"
    body_font: str = "Calibri"
    figure_font: str = "DejaVu Sans"
    _quadrants: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ series and status
    @property
    def series(self) -> list[str]:
        """Colours for chart series, brand colours first."""
        return [self.primary, self.accent, *self.extra]

    def rag(self, status) -> str:
        """Strong colour of a RAG status (``green``/``amber``/``red``; anything else is n/a)."""
        return {"green": self.green, "amber": self.amber, "red": self.red}.get(str(status).lower(), self.na)

    def rag_fill(self, status) -> str:
        """Light cell fill of a RAG status."""
        return {"green": self.green_fill, "amber": self.amber_fill, "red": self.red_fill}.get(
            str(status).lower(), self.na_fill)

    # ------------------------------------------------------------------ table fills and colour scales
    def tone_fill(self, tone) -> str | None:
        """Light fill of a tone (``good`` / ``neutral`` / ``watch`` / ``risk``, e.g. an RFM
        segment's): the RAG fills, a primary tint for neutral; None for any other tone."""
        return {"good": self.green_fill, "neutral": tint(self.primary, 0.85), "watch": self.amber_fill,
                "risk": self.red_fill}.get(str(tone))

    @property
    def category_fills(self) -> list[str]:
        """Light fills for unordered categories (behavioural clusters): the series colours tinted."""
        return [tint(c, 0.8) for c in self.series]

    def rag_scale(self) -> tuple[str, str, str]:
        """(low, mid, high) of a bad-to-good colour scale: red, amber, green, lightened for cells."""
        return tint(self.red, 0.45), tint(self.amber, 0.45), tint(self.green, 0.45)

    def sequential_scale(self) -> tuple[str, str]:
        """(low, high) of a one-colour scale for counts and scores: white to a primary tint."""
        return "FFFFFF", tint(self.primary, 0.45)

    def diverging_scale(self) -> tuple[str, str, str]:
        """(low, mid, high) of a scale around zero (z-scores): primary tint, white, red tint."""
        return tint(self.primary, 0.45), "FFFFFF", tint(self.red, 0.45)

    # ------------------------------------------------------------------ quadrants
    @property
    def quadrant_palette(self) -> tuple[str, ...]:
        """Colour of each quadrant position, in matrix order (invest, develop, maintain, streamline)."""
        return self._quadrants or (self.primary, self.accent, self.highlight, "8DA9C4")

    def quadrant_colors(self, names: list[str]) -> dict[str, str]:
        """Quadrant name -> colour, for names in matrix order; other segment names get series colours."""
        out = dict(zip(names, self.quadrant_palette))
        return out

    def quadrant_fills(self, names: list[str]) -> dict[str, str]:
        """Quadrant name -> light fill (table cells), the quadrant colour tinted."""
        return {n: tint(c, 0.75) for n, c in self.quadrant_colors(names).items()}

    # ------------------------------------------------------------------ other forms
    def css(self) -> dict[str, str]:
        """CSS custom properties (name -> ``#RRGGBB``) for the HTML dashboard."""
        names = ("primary", "accent", "text", "muted", "grid", "light", "highlight", "green", "amber", "red", "na",
                 "green_fill", "amber_fill", "red_fill", "na_fill")
        return {n.replace("_", "-"): hex_css(getattr(self, n)) for n in names}

    def mpl_rc(self) -> dict:
        """matplotlib rc settings for figures in this theme."""
        import matplotlib

        return {"font.family": self.figure_font, "text.color": hex_css(self.text),
                "axes.labelcolor": hex_css(self.text), "axes.edgecolor": hex_css(self.grid),
                "axes.prop_cycle": matplotlib.cycler(color=[hex_css(c) for c in self.series])}


def theme_for(params=None) -> Theme:
    """The theme for a client: the default one with ``params.branding``'s brand colours."""
    branding = getattr(params, "branding", None)
    if branding is None:
        return Theme()
    return Theme(primary=branding.primary_color.lstrip("#").upper(),
                 accent=branding.accent_color.lstrip("#").upper())


_CURRENT: ContextVar[Theme | None] = ContextVar("kam_theme", default=None)


@contextlib.contextmanager
def use_theme(theme: Theme):
    """Make ``theme`` the one :func:`active_theme` returns inside a ``with`` block.

    A deliverable builder wraps its work in ``with use_theme(theme_for(run.params)):`` so
    every helper it calls draws in the client's colours without passing the theme around.
    """
    token = _CURRENT.set(theme)
    try:
        yield theme
    finally:
        _CURRENT.reset(token)


def active_theme() -> Theme:
    """The theme of the innermost :func:`use_theme` block (the default theme outside one)."""
    return _CURRENT.get() or Theme()
