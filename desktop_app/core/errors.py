"""Errors a curator can act on, as opposed to bugs.

A `UserError` carries a short message that says what happened and what to do; front ends show it
without a traceback. Anything else escaping the core is a bug and gets a traceback.
"""


class UserError(Exception):
    """A problem with the environment or the user's input, with a message that says what to do."""


class CatalogError(UserError):
    """The catalog file cannot be opened or written (missing, read-only, newer version, corrupt)."""


class ModelError(UserError):
    """A model is missing, damaged, or does not match its manifest."""
