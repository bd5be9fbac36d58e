"""The Glue catalog's optimistic lock, over HTTP on moto. moto's UpdateTable ignores VersionId (it never refuses
one), so the refusal AWS would send is injected at the client: pyiceberg must send the VersionId it read, turn
ConcurrentModificationException into CommitFailedException, and the commit must reload, re-check the marker and
retry. And UpdateTable is sent once: a landed update whose response is lost must not be retried into a refusal
that pyiceberg would answer by deleting the committed snapshot's files; the commit reloads instead, finds it by
its marker, and retries a throttle or a 5xx that did not land."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from pyiceberg.catalog.glue import GlueCatalog

from churn_pipeline.tables import CommitMarker, CommitUnavailableError, RetryPolicy, commit_data_files

from .conftest import DATABASE, REGION, batch_rows, hour
from .test_commit import QUERY, marked_snapshots

FAST = RetryPolicy(attempts=3, first_wait_seconds=0.01, max_wait_seconds=0.02)


def _refusal(client):
    return client.exceptions.ConcurrentModificationException(
        {"Error": {"Code": "ConcurrentModificationException", "Message": "version changed"}}, "UpdateTable"
    )


def _version_id(glue_table) -> str:
    name = glue_table.identifier.split(".", 1)[1]
    return boto3.client("glue", region_name=REGION).get_table(DatabaseName=DATABASE, Name=name)["Table"][
        "VersionId"
    ]


def test_update_table_refused_for_its_version_id_is_retried_after_a_reload(glue_table, monkeypatch):
    client = glue_table.catalog.update_client
    original, sent = client.update_table, []

    def refuse_first(**kwargs):
        sent.append(kwargs["VersionId"])
        if len(sent) == 1:
            raise _refusal(client)
        return original(**kwargs)

    monkeypatch.setattr(client, "update_table", refuse_first)
    before = _version_id(glue_table)
    outcome = commit_data_files(
        glue_table.catalog, glue_table.identifier, [glue_table.write_file(batch_rows("a", 3, hour(3)))],
        CommitMarker(QUERY, 0), FAST, sleep=lambda _: None,
    )  # fmt: skip
    assert (outcome.committed, outcome.attempts) == (True, 2)
    assert sent == [before, before]  # the version read each time (nothing else changed the table)
    assert _version_id(glue_table) != before
    assert marked_snapshots(glue_table.load()) == [(QUERY, "0")]
    assert glue_table.rows() == batch_rows("a", 3, hour(3))


@pytest.mark.parametrize("lost", [ReadTimeoutError, ConnectionClosedError])
def test_a_landed_update_whose_response_is_lost_is_found_by_the_reload(glue_table, monkeypatch, lost):
    client = glue_table.catalog.update_client
    original, sent = client.update_table, []

    def land_then_lose_the_response(**kwargs):
        sent.append(kwargs["VersionId"])
        original(**kwargs)
        raise lost(endpoint_url=client.meta.endpoint_url)

    monkeypatch.setattr(client, "update_table", land_then_lose_the_response)
    outcome = commit_data_files(
        glue_table.catalog, glue_table.identifier, [glue_table.write_file(batch_rows("a", 3, hour(3)))],
        CommitMarker(QUERY, 0), FAST, sleep=lambda _: None,
    )  # fmt: skip
    monkeypatch.undo()
    # The reload found the landed commit by its marker: not sent again, and pyiceberg deleted nothing.
    assert (outcome.committed, outcome.attempts, len(sent)) == (True, 2, 1)
    assert outcome.snapshot_id == glue_table.load().current_snapshot().snapshot_id
    assert marked_snapshots(glue_table.load()) == [(QUERY, "0")]
    assert glue_table.rows() == batch_rows("a", 3, hour(3))
    replay = commit_data_files(
        glue_table.catalog, glue_table.identifier, [glue_table.write_file(batch_rows("a2", 3, hour(3)))],
        CommitMarker(QUERY, 0),
    )  # fmt: skip
    assert (replay.committed, replay.snapshot_id) == (False, outcome.snapshot_id)
    assert glue_table.rows() == batch_rows("a", 3, hour(3))


def _answer_update_table_sends(
    client, status: int, code: str = "InternalServiceException", times: int | None = None
) -> list[int | None]:
    """The first `times` UpdateTable sends of this client (all if None) are answered `status` with error `code`
    without reaching moto (botocore's before-send), as AWS would answer them; later ones reach moto. Returns
    the answer to every send (None: sent to moto)."""
    from botocore.awsrequest import AWSResponse

    class Body:
        def stream(self, **_):
            yield json.dumps({"__type": code, "message": "injected"}).encode()

    sends: list[int | None] = []

    def answer(request, **_):
        if times is not None and len(sends) >= times:
            sends.append(None)
            return None
        sends.append(status)
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, Body())

    client.meta.events.register("before-send.glue.UpdateTable", answer)
    return sends


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "ThrottlingException"), (500, "InternalServiceException"), (500, "InternalFailure")],
)
def test_a_throttled_or_failed_update_that_did_not_land_is_retried_after_a_reload(glue_table, status, code):
    sends = _answer_update_table_sends(glue_table.catalog.update_client, status, code, times=1)
    outcome = commit_data_files(
        glue_table.catalog, glue_table.identifier, [glue_table.write_file(batch_rows("a", 3, hour(3)))],
        CommitMarker(QUERY, 0), FAST, sleep=lambda _: None,
    )  # fmt: skip
    assert (outcome.committed, outcome.attempts, sends) == (True, 2, [status, None])
    assert marked_snapshots(glue_table.load()) == [(QUERY, "0")]
    assert glue_table.rows() == batch_rows("a", 3, hour(3))


def test_an_unreachable_endpoint_is_retried_then_reported(glue_table, monkeypatch):
    client = glue_table.catalog.update_client

    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url=client.meta.endpoint_url)

    monkeypatch.setattr(client, "update_table", unreachable)
    waits: list[float] = []
    with pytest.raises(
        CommitUnavailableError, match=r"3 times and did not land; last: EndpointConnectionError"
    ):
        commit_data_files(
            glue_table.catalog, glue_table.identifier, [glue_table.write_file(batch_rows("a", 3, hour(3)))],
            CommitMarker(QUERY, 0), FAST, sleep=waits.append,
        )  # fmt: skip
    assert len(waits) == FAST.attempts - 1
    assert glue_table.load().snapshots() == []


def test_a_non_transient_error_is_raised_at_once(glue_table):
    sends = _answer_update_table_sends(glue_table.catalog.update_client, 400, "AccessDeniedException")
    waits: list[float] = []
    with pytest.raises(ClientError, match="AccessDeniedException"):
        commit_data_files(
            glue_table.catalog, glue_table.identifier, [glue_table.write_file(batch_rows("a", 3, hour(3)))],
            CommitMarker(QUERY, 0), FAST, sleep=waits.append,
        )  # fmt: skip
    assert (sends, waits) == ([400], [])
    assert glue_table.load().snapshots() == []


def test_update_table_is_sent_once_where_pyicebergs_client_would_resend_it(glue_table, moto_server):
    """A 500 is what botocore retries (and what a lost response looks like to it): pyiceberg's own client sends
    the same VersionId again, which after a landed first call is the refusal that makes pyiceberg delete files."""
    table = glue_table.load()
    ours = _answer_update_table_sends(glue_table.catalog.update_client, 500)
    with pytest.raises(Exception, match="InternalServiceException"):
        with table.transaction() as transaction:
            transaction.add_files(
                [glue_table.write_file(batch_rows("a", 1, hour(3)))], CommitMarker(QUERY, 0).summary()
            )
    assert ours == [500]

    # pyiceberg's GlueCatalog as it comes (pyarrow's S3 does not read AWS_ENDPOINT_URL: told explicitly).
    plain = GlueCatalog("plain", **{"glue.region": REGION, "glue.max-retries": 2, "s3.endpoint": moto_server})
    theirs = _answer_update_table_sends(plain.glue, 500)
    with pytest.raises(Exception, match="InternalServiceException"):
        with plain.load_table(glue_table.identifier).transaction() as transaction:
            transaction.add_files(
                [glue_table.write_file(batch_rows("b", 1, hour(3)))], CommitMarker(QUERY, 0).summary()
            )
    assert theirs == [500, 500, 500]
    assert glue_table.load().snapshots() == []


def test_pyiceberg_answers_a_refused_resend_of_a_landed_update_by_deleting_the_committed_files(
    glue_table, moto_server
):
    """Why UpdateTable is sent once: the first send lands, its response is lost, the resend is refused (stale
    VersionId), and pyiceberg, reading "did not land", deletes the manifest list the table now points at."""
    plain = GlueCatalog("plain", **{"glue.region": REGION, "s3.endpoint": moto_server})
    original = plain.glue.update_table

    def land_then_refuse_the_resend(**kwargs):
        original(**kwargs)
        raise _refusal(plain.glue)

    plain.glue.update_table = land_then_refuse_the_resend
    table = plain.load_table(glue_table.identifier)  # our table: pyiceberg's own retries are off
    with pytest.raises(Exception, match="concurrent update"):
        with table.transaction() as transaction:
            transaction.add_files(
                [glue_table.write_file(batch_rows("a", 1, hour(3)))], CommitMarker(QUERY, 0).summary()
            )
    with pytest.raises(FileNotFoundError, match=r"snap-.*\.avro"):
        glue_table.rows()
