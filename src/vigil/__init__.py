"""Vigil: a self-hostable trust-and-safety data platform.

Parts and their arrows (one way only):
api → service → store ; engine (pure) ; delivery ; worker → service/store/engine ; cli.
"""

__version__ = "0.1.0"
