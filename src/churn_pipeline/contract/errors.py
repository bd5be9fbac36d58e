"""The error every part of the contract raises for input that does not fit it as a whole."""

from __future__ import annotations


class ContractError(ValueError):
    """The input as a whole does not fit the contract (e.g. a required column is missing)."""
