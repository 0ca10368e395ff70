"""The row of match decisions: same product, look-alike, not a match, each a toggle with its key.

Used by the similar panel (for the selected result) and the match inspector (for its two articles). It
shows the decision stored for the pair and says which one the curator clicked; clicking the decision that
is already made takes it back ("none").
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from desktop_app.gui import theme

# The decisions a curator can make on a pair, with their keys (shown in tooltips, menus and the shortcut sheet).
DECISION_KEYS = (
    ("same", "Same product", "1"),
    ("alike", "Look-alike", "2"),
    ("not_match", "Not a match", "3"),
)
NO_DECISION_KEY = "0"


class DecisionBar(QWidget):
    decide_requested = Signal(str)  # "same", "alike", "not_match", or "none" to take the decision back

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.decision: str | None = None
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel("Decide:")
        row.addWidget(self.caption)
        for decision, text, key in DECISION_KEYS:
            b = QToolButton()
            b.setText(f"{text}  {key}")
            b.setCheckable(True)
            b.setAccessibleName(text)
            b.setToolTip(
                f"Mark the pair as “{text.lower()}” (key {key}); click again to take it back "
                f"(key {NO_DECISION_KEY})"
            )
            b.clicked.connect(lambda _c=False, d=decision: self._clicked(d))
            self.buttons[decision] = b
            row.addWidget(b)
        row.addStretch(1)
        self._style()
        self.set_state(False, None)

    def _style(self) -> None:
        # Only the checked look is the bar's own; everything else comes from the palette. A style sheet
        # set once kept the old palette's buttons after View > Colours changed it.
        for decision, b in self.buttons.items():
            fill = theme.decision_fill(decision).name()
            b.setStyleSheet(
                f"QToolButton:checked {{ background: {fill}; color: white; border-radius: 3px; }}"
            )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            for b in self.buttons.values():
                b.setStyleSheet("")  # let the style polish them with the new palette first
            self._style()
        super().changeEvent(event)

    def set_state(self, enabled: bool, decision: str | None, why_not: str = "") -> None:
        """Show the stored decision of the pair (None: undecided); disabled with a reason when no pair."""
        self.decision = decision
        for d, b in self.buttons.items():
            b.setEnabled(enabled)
            b.setChecked(enabled and d == decision)
            b.setStatusTip("" if enabled else why_not)
        self.caption.setEnabled(enabled)

    def _clicked(self, decision: str) -> None:
        wanted = "none" if self.decision == decision else decision
        self.set_state(True, self.decision)  # the buttons show what is stored until the engine says otherwise
        self.decide_requested.emit(wanted)


__all__ = ["DECISION_KEYS", "NO_DECISION_KEY", "DecisionBar"]
