"""What a read keeps for next time (photo fingerprints, the map layout, label calibrations, the local vector
store): caches, which a read computes when it cannot store them. The policy for not storing one lives here.

A cache is never what the curator asked to save, so a place that cannot hold it (a catalog that can only be
read here, a full disk) must not cost the answer: the answer is given, the cache is not stored, and a full
disk is said once (a read-only catalog is expected to stay as it is, and says nothing).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_said: set[tuple[str, str]] = set()
_said_lock = threading.Lock()


def not_stored_on_full_disk(what: str, where: str) -> None:
    """Say, once per process for each cache and place, that `what` was not stored because the disk holding
    `where` is full (a warning: one line on the command line's stderr, the app's log)."""
    with _said_lock:
        if (what, where) in _said:
            return
        _said.add((what, where))
    log.warning(
        "%s: not stored, as the disk holding %s is full. The result is complete; free some space so that "
        "the next run can reuse it.",
        what[:1].upper() + what[1:],
        where,
    )
