"""The local endpoint as a real uvicorn process: the SageMaker HTTP contract, errors, concurrency, faults."""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from endpoint_helpers import running_endpoint

from churn_pipeline.model import Scorer
from churn_pipeline.scoring.endpoint_protocol import MAX_BODY_BYTES, format_csv, parse_predictions
from churn_pipeline.training.datasets import read_churn_csv
from churn_tools.local import endpoint_server
from churn_tools.local import services as local_services


@pytest.fixture(scope="module")
def encoded(model_dir, synthetic_csv):
    scorer = Scorer.from_dir(model_dir)
    frame = read_churn_csv(synthetic_csv).head(500)
    batch = scorer.score(frame)
    return batch.encoded.matrix, batch.probabilities


def post(url: str, body: bytes, content_type: str = "text/csv") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def runtime_client(url: str, retries: int = 1):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": retries}),
    )


def test_ping_and_container_invocations_answer_one_probability_per_line(endpoint_url, encoded):
    matrix, expected = encoded
    with urllib.request.urlopen(f"{endpoint_url}/ping", timeout=10) as response:
        assert response.status == 200
    status, body = post(f"{endpoint_url}/invocations", format_csv(matrix))
    assert status == 200
    lines = body.decode().splitlines()
    assert len(lines) == len(expected)
    np.testing.assert_array_equal(np.array([float(x) for x in lines]), expected)


def test_an_empty_field_is_scored_as_a_missing_value(endpoint_url, encoded, model_dir):
    """As the XGBoost container: an empty field is NaN, XGBoost's missing value (not 0, not an error)."""
    matrix, _ = encoded
    with_missing = matrix[:20].copy()
    with_missing[::3, 0] = np.nan
    with_missing[1::3, -1] = np.nan
    status, body = post(f"{endpoint_url}/invocations", format_csv(with_missing))
    assert status == 200, body.decode()[:300]
    got = parse_predictions(body, len(with_missing))
    np.testing.assert_array_equal(got, Scorer.from_dir(model_dir).predict_matrix(with_missing))
    zeros = np.nan_to_num(with_missing, nan=0.0)
    assert not np.array_equal(got, Scorer.from_dir(model_dir).predict_matrix(zeros))


def test_runtime_api_through_boto3_and_concurrent_requests(endpoint_url, encoded):
    matrix, expected = encoded
    client = runtime_client(endpoint_url)
    chunks = np.array_split(np.arange(len(matrix)), 10)

    def invoke(rows):
        response = client.invoke_endpoint(
            EndpointName="any-name", ContentType="text/csv", Body=format_csv(matrix[rows])
        )
        assert response["ContentType"] == "text/csv"
        return parse_predictions(response["Body"].read(), len(rows))

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(invoke, chunks))
    np.testing.assert_array_equal(np.concatenate(answers), expected)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "body is empty"),
        (b"State,Account Length,Area Code\n1,2,3\n", 400, "row 1 looks like a header"),
        (b"1,2,3\n", 400, "row 1 has 3 columns, the model expects"),
        (None, 400, "row 2, column 3: 'abc' is not a number"),
        (b"1," * (MAX_BODY_BYTES // 2 + 1), 413, "over the limit of 6291456 bytes"),
    ],
    ids=["empty", "header", "column-count", "non-numeric", "over-limit"],
)
def test_bad_bodies_get_4xx_naming_the_problem(endpoint_url, encoded, body, status, message):
    matrix, _ = encoded
    if body is None:
        good = format_csv(matrix[:2]).decode().splitlines()
        cells = good[1].split(",")
        cells[2] = "abc"
        body = (good[0] + "\n" + ",".join(cells) + "\n").encode()
    got_status, got_body = post(f"{endpoint_url}/invocations", body)
    assert (got_status, message in got_body.decode()) == (status, True), got_body.decode()[:300]


def test_runtime_api_wraps_container_errors_as_sagemaker_does(endpoint_url):
    with pytest.raises(ClientError) as caught:
        runtime_client(endpoint_url).invoke_endpoint(
            EndpointName="x", ContentType="text/csv", Body=b"1,2,3\n"
        )
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["Code"] == "ModelError"
    assert "Received client error (400)" in error["Message"] and "has 3 columns" in error["Message"]
    status, body = post(f"{endpoint_url}/invocations", b"1\n", content_type="application/json")
    assert (status, b"content type 'application/json' is not supported" in body) == (415, True)


def test_injected_faults_look_like_sagemaker_throttling_and_server_errors(model_dir, tmp_path, encoded):
    matrix, _ = encoded
    body = format_csv(matrix[:3])
    with running_endpoint(model_dir, tmp_path / "throttle", throttle_ratio=1.0) as url:
        with pytest.raises(ClientError) as caught:
            runtime_client(url).invoke_endpoint(EndpointName="x", ContentType="text/csv", Body=body)
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with running_endpoint(model_dir, tmp_path / "errors", error_ratio=1.0) as url:
        status, answer = post(f"{url}/invocations", body)
        assert (status, b"injected fault" in answer) == (500, True)


def test_background_start_writes_pid_and_log_and_stop_ends_the_process(model_dir, tmp_path):
    port = local_services.free_port()
    pid = endpoint_server.start_background(model_dir, port, tmp_path, endpoint_name="churn-test")
    assert local_services.PidFile(tmp_path / endpoint_server.PID_FILENAME).read()["pid"] == pid
    with pytest.raises(RuntimeError, match="already running"):
        endpoint_server.start_background(model_dir, local_services.free_port(), tmp_path)
    # A named server answers only its own name on the runtime route.
    status, body = post(f"http://{local_services.LOOPBACK}:{port}/endpoints/other/invocations", b"1\n")
    assert (status, b"Endpoint other not found" in body) == (400, True)
    assert endpoint_server.stop_background(tmp_path) is True
    assert not (tmp_path / endpoint_server.PID_FILENAME).exists()
    assert not local_services.port_in_use(port)
    assert "serving" in Path(tmp_path / endpoint_server.LOG_FILENAME).read_text()
    assert endpoint_server.stop_background(tmp_path) is False
