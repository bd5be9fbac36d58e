"""Fixtures of the batch tests."""

from __future__ import annotations

import pytest

from .helpers import running_endpoint


@pytest.fixture(scope="session")
def endpoint_url(model_dir, tmp_path_factory):
    """One fault-free endpoint serving the session's model."""
    with running_endpoint(model_dir, tmp_path_factory.mktemp("endpoint")) as url:
        yield url
