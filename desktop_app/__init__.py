"""Lookalike: find look-alike products in a folder of catalogue photos."""

__version__ = "0.1.0"
