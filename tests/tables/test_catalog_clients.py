"""The Glue catalog's clients: a botocore session of their own each (credentials, region), the service models
botocore has parsed shared by the whole process."""

from __future__ import annotations

from churn_pipeline.tables import CatalogSettings, catalog_from_settings


def glue_catalog(region: str):
    return catalog_from_settings(CatalogSettings("glue", "s3://churn-tables-test/warehouse", region))


def test_each_catalog_has_its_own_session_and_reuses_the_parsed_models(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # no call is made
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    first = glue_catalog("us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second-key")
    second = glue_catalog("eu-west-1")
    clients = {
        "first": (first.glue, first.update_client),
        "second": (second.glue, second.update_client),
    }
    # What a session holds stays its own: the region asked for, the credentials in force when it was made.
    regions = {name: [c.meta.region_name for c in pair] for name, pair in clients.items()}
    assert regions == {"first": ["us-east-1", "us-east-1"], "second": ["eu-west-1", "eu-west-1"]}
    keys = {name: [c._request_signer._credentials.access_key for c in pair] for name, pair in clients.items()}
    assert keys == {"first": ["first-key", "first-key"], "second": ["second-key", "second-key"]}
    # What botocore parsed (Glue's service model, the endpoint rules) is loaded once for all of them.
    loaders = {id(c._loader) for pair in clients.values() for c in pair}
    assert len(loaders) == 1
    # The commit's client still sends UpdateTable once (catalog.py, GlueCatalogUpdatingOnce).
    assert second.update_client.meta.config.retries["total_max_attempts"] == 1
