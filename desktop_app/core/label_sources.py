"""Where a label came from, and which labels count as the curator's ground truth.

Every label row carries its source. Confidence calibration (of suggestions from labelled neighbours and of
zero-shot suggestions) learns how often suggestions are right by comparing them with labels it trusts. A
label that was accepted in bulk from suggestions is what a suggestion said, not what the curator saw: fitting
on it teaches a method that it is right because it agrees with itself (a zero-shot accept of 156 "bags",
then a calibration on them that read "right 100% of the time"). So calibration fits only on
curator-confirmed labels:

- counted: labels the curator set or edited (`manual`), imported from a file (`import`) or from folder
  names (`folder`), and suggestions accepted one at a time in the review queue (`accepted`: the curator saw
  the photos and that suggestion);
- not counted: suggestions accepted in bulk by a confidence threshold (`accepted-bulk` for suggestions from
  labelled neighbours: `labels accept`, the queue's "accept all"; `accepted-zero-shot` for zero-shot ones:
  `labels accept --zero-shot`, or the queue's "accept all" while it shows zero-shot suggestions).

A label accepted in bulk becomes curator-confirmed when the curator edits it, or sets it again to the same
value by hand (`labels set`, the app's labels dialog or map) or accepts it in the review queue: that is
logged as a decision of its own, undoable. Importing a file that gives it the same value does not confirm
it: a file is often an export of the catalog itself, fixed in a few places and imported back, and its
other rows are what the bulk accept wrote (an import that changes the value makes it an imported label).
"""

from __future__ import annotations

MANUAL = "manual"
IMPORT = "import"
FOLDER = "folder"
REVIEWED = "accepted"  # one suggestion accepted in the review queue (the name older catalogs used too)
BULK_ACCEPTED = "accepted-bulk"
ZERO_SHOT_ACCEPTED = "accepted-zero-shot"

# Sources of labels that are suggestions taken on trust, never ground truth for calibration.
UNCONFIRMED = frozenset({BULK_ACCEPTED, ZERO_SHOT_ACCEPTED})


def confirmed(source: str | None) -> bool:
    """Whether a label with this source is ground truth for calibration (see the module's docstring)."""
    return source not in UNCONFIRMED


# Sources of writes by which the curator confirms a label's value by looking at it.
CONFIRMING = frozenset({MANUAL, REVIEWED})


def confirms(old_source: str | None, new_source: str) -> bool:
    """Whether writing a label's own value again with `new_source` changes what it is: a label taken on trust
    that the curator now confirms (by hand or in the review queue; not by a file, see above)."""
    return not confirmed(old_source) and new_source in CONFIRMING
