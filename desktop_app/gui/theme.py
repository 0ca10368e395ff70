"""Colours of the app: a light or a dark palette (or the desktop's), and colours checked against the palette.

Views never hard-code a text colour on a background they do not control: they take both from the palette,
or pick the candidate with the best contrast (WCAG ratio) against the background they paint. The decision
badges and the score colour are chosen here, once, for the palette on show.

Style sheets that name palette roles (`color: palette(placeholder-text)`) are resolved when they are set:
`apply_theme` sets them again on every widget after changing the palette, so a switch to the dark palette
does not leave light banners and dark-on-dark notes behind. The app's style draws check boxes with an edge
that reads on the window (Fusion's own edge is barely darker than the window: 1.2:1 on the dark palette).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory, QStyleOption, QWidget

from desktop_app.core.wording import DECISION_WORDS

Role = QPalette.ColorRole
Group = QPalette.ColorGroup

READABLE = 4.5  # WCAG AA contrast for normal text
VISIBLE_EDGE = 3.0  # WCAG AA contrast for the edges of controls (a check box's box)

# Decision badges: white text on a saturated fill, each fill dark enough for white to read (>= 4.5).
DECISION_FILLS = {"same": "#2b7a3b", "alike": "#1c5fa8", "not_match": "#b02a2a"}

_DARK = {
    Role.Window: "#2b2d31",
    Role.WindowText: "#e8e8ea",
    Role.Base: "#1f2023",
    Role.AlternateBase: "#282a2e",
    Role.ToolTipBase: "#3a3d42",
    Role.ToolTipText: "#f0f0f2",
    Role.PlaceholderText: "#a3a8b0",
    Role.Text: "#e8e8ea",
    Role.Button: "#36393e",
    Role.ButtonText: "#e8e8ea",
    Role.BrightText: "#ff6b6b",
    Role.Light: "#4a4d53",
    Role.Midlight: "#3e4146",
    Role.Mid: "#2f3236",
    Role.Dark: "#1b1c1f",
    Role.Shadow: "#101113",
    Role.Highlight: "#3a78d6",
    Role.HighlightedText: "#ffffff",
    Role.Link: "#8ab4f8",
    Role.LinkVisited: "#c58af9",
}
_DARK_DISABLED = {
    Role.WindowText: "#7d828a",
    Role.Text: "#7d828a",
    Role.ButtonText: "#7d828a",
    Role.Highlight: "#4a4d53",
    Role.HighlightedText: "#b0b3b8",
}

_LIGHT = {
    Role.Window: "#efeff1",
    Role.WindowText: "#1d1f22",
    Role.Base: "#ffffff",
    Role.AlternateBase: "#f4f5f7",
    Role.ToolTipBase: "#ffffdc",
    Role.ToolTipText: "#1d1f22",
    Role.PlaceholderText: "#5f636b",  # 5:1 on the window (notes and headers sit on it, not only on base)
    Role.Text: "#1d1f22",
    Role.Button: "#e9e9ec",
    Role.ButtonText: "#1d1f22",
    Role.BrightText: "#ffffff",
    Role.Light: "#ffffff",
    Role.Midlight: "#f3f3f5",
    Role.Mid: "#b8bac0",
    Role.Dark: "#9a9ca3",
    Role.Shadow: "#5b5d63",
    Role.Highlight: "#2f6fce",
    Role.HighlightedText: "#ffffff",
    Role.Link: "#1a5fb4",
    Role.LinkVisited: "#7b3fb0",
}
_LIGHT_DISABLED = {
    Role.WindowText: "#8e9199",
    Role.Text: "#8e9199",
    Role.ButtonText: "#8e9199",
    Role.Highlight: "#c4c6cc",
    Role.HighlightedText: "#5b5d63",
}


def _palette(colours: dict, disabled: dict) -> QPalette:
    pal = QPalette()
    for role, colour in colours.items():
        pal.setColor(Group.All, role, QColor(colour))
    for role, colour in disabled.items():
        pal.setColor(Group.Disabled, role, QColor(colour))
    return pal


def dark_palette() -> QPalette:
    return _palette(_DARK, _DARK_DISABLED)


def light_palette() -> QPalette:
    return _palette(_LIGHT, _LIGHT_DISABLED)


_system: tuple[str, QPalette] | None = None  # the style and palette the app started with
_style: QProxyStyle | None = None  # the app's style while a palette of ours is on (kept alive here)


class ReadableStyle(QProxyStyle):
    """Fusion, with check boxes whose box has an edge that reads on the window in either palette."""

    def drawPrimitive(self, element, option: QStyleOption, painter: QPainter, widget: QWidget | None = None):
        super().drawPrimitive(element, option, painter, widget)
        if element == QStyle.PrimitiveElement.PE_IndicatorCheckBox:
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(indicator_edge(option.palette))
            painter.setBrush(QColor(0, 0, 0, 0))
            painter.drawRect(QRectF(option.rect).adjusted(0.5, 0.5, -1.5, -1.5))
            painter.restore()


def apply_theme(app: QApplication, theme: str) -> None:
    """ "dark" or "light": the Fusion style with that palette; "system": what the desktop gave the app."""
    global _system, _style
    if _system is None:
        _system = (app.style().name(), QPalette(app.palette()))
    if theme in ("dark", "light"):
        if "Fusion" in QStyleFactory.keys() and _style is None:
            _style = ReadableStyle(QStyleFactory.create("Fusion"))  # draws every control from the palette
            app.setStyle(_style)
        app.setPalette(dark_palette() if theme == "dark" else light_palette())
    else:
        style, palette = _system
        if _style is not None:
            _style = None
            app.setStyle(style)
        app.setPalette(palette)
    restyle(app)


def restyle(app: QApplication) -> None:
    """Resolve the palette roles named in style sheets again, for the palette now on show."""
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if "palette(" in sheet:
            widget.setStyleSheet(sheet)


# ============================================================================ colour arithmetic


def luminance(c: QColor) -> float:
    """Relative luminance (WCAG 2)."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours: 1 (none) to 21 (black on white)."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def readable(background: QColor, *candidates: QColor) -> QColor:
    """The first candidate that reads on the background (>= 4.5), else the one with the best contrast."""
    for c in candidates:
        if contrast(c, background) >= READABLE:
            return c
    return max(candidates, key=lambda c: contrast(c, background))


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """a mixed with b: t = 0 gives a, 1 gives b."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def is_dark(pal: QPalette) -> bool:
    return luminance(pal.color(Role.Window)) < 0.2


# ============================================================================ the colours views use


def selection_fill(pal: QPalette) -> QColor:
    """A selected cell's background: the highlight, softened towards the base so photos stay the focus."""
    return blend(pal.color(Role.Highlight), pal.color(Role.Base), 0.55)


def selection_text(pal: QPalette) -> QColor:
    """Text on `selection_fill`: the palette's text or highlighted text, whichever reads."""
    bg = selection_fill(pal)
    return readable(
        bg, pal.color(Role.Text), pal.color(Role.HighlightedText), QColor("black"), QColor("white")
    )


def secondary_text(pal: QPalette, background: QColor | None = None) -> QColor:
    """Less important text (labels, notes): the placeholder colour when it reads, else the text colour."""
    bg = background if background is not None else pal.color(Role.Base)
    return readable(
        bg, pal.color(Role.PlaceholderText), blend(pal.color(Role.Text), bg, 0.25), pal.color(Role.Text)
    )


def score_colour(pal: QPalette, background: QColor | None = None) -> QColor:
    """Green for a high score, in a shade that reads on the background."""
    bg = background if background is not None else pal.color(Role.Base)
    greens = ("#1b6b35", "#2b8a3e", "#51cf66", "#8ce99a") if not is_dark(pal) else ("#8ce99a", "#69db7c")
    return readable(bg, *(QColor(g) for g in greens), pal.color(Role.Text))


def indicator_edge(pal: QPalette) -> QColor:
    """The edge of a check box's box: the text colour softened as far as it stays visible on the window."""
    window, text = pal.color(Role.Window), pal.color(Role.Text)
    for t in (0.45, 0.3, 0.15):
        edge = blend(text, window, t)
        if contrast(edge, window) >= VISIBLE_EDGE:
            return edge
    return text


def placeholder_fill(pal: QPalette) -> QColor:
    """The soft tile shown while a thumbnail loads."""
    return blend(pal.color(Role.Base), pal.color(Role.Text), 0.08)


def warning_colours(pal: QPalette) -> tuple[QColor, QColor]:
    """(background, text) of a warning banner that reads in both palettes."""
    if is_dark(pal):
        return QColor("#4a3a14"), QColor("#ffe8a8")
    return QColor("#fff4e0"), QColor("#6b4200")


def good_text(pal: QPalette) -> QColor:
    """Green text (agrees, new) that reads on the base colour."""
    return readable(pal.color(Role.Base), QColor("#2b7a3b"), QColor("#8ce99a"))


def warn_text(pal: QPalette) -> QColor:
    """Amber text (disagrees, changes) that reads on the base colour."""
    return readable(pal.color(Role.Base), QColor("#8a5a00"), QColor("#ffc078"))


def muted() -> str:
    """Secondary text of the app's palette as a CSS colour, for rich text."""
    return secondary_text(QApplication.palette()).name()


def error_text(pal: QPalette) -> QColor:
    bg = pal.color(Role.Window)
    return readable(bg, QColor("#b02a2a"), QColor("#ff8787"))


def decision_fill(decision: str) -> QColor:
    return QColor(DECISION_FILLS.get(decision, "#555555"))


__all__ = [
    "DECISION_FILLS",
    "DECISION_WORDS",
    "READABLE",
    "apply_theme",
    "blend",
    "contrast",
    "dark_palette",
    "decision_fill",
    "error_text",
    "good_text",
    "indicator_edge",
    "ReadableStyle",
    "restyle",
    "VISIBLE_EDGE",
    "muted",
    "warn_text",
    "is_dark",
    "light_palette",
    "luminance",
    "placeholder_fill",
    "readable",
    "score_colour",
    "secondary_text",
    "selection_fill",
    "selection_text",
    "warning_colours",
]
