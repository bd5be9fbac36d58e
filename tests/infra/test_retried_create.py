"""A create the provider retries after moto carried it out (issue 28): the local apply must still succeed.

The Terraform provider retries a call whose answer it lost (churn_tools.local.moto_server explains how that
happens on loopback). Here a proxy in front of a real moto server forwards the first Glue CreateTable, lets moto
carry it out, and drops the answer, so the provider's SDK sends the same call again. Without
moto_server.ReplayRetries that retry fails with AlreadyExists, as the flaky local applies did.
"""

from __future__ import annotations

import json
import socket
import threading

import boto3

from churn_tools.deploy import package as packaging
from churn_tools.deploy import terraform as deploy
from churn_tools.local import services as local_services

from .conftest import ARTIFACTS

TABLES = "module.pipeline.module.glue.aws_glue_catalog_table.results"
DROPPED_CALL = b"AWSGlue.CreateTable"


def read_request(connection: socket.socket) -> bytes:
    """One HTTP request (headers and a Content-Length body) from a client connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class DropFirstAnswer:
    """Loopback proxy to moto: every call is forwarded and answered, except that the first call naming
    DROPPED_CALL gets no answer (the connection closes once moto has answered it)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.dropped: list[bytes] = []
        self.forwarded: list[bytes] = []
        self.server = socket.create_server((local_services.LOOPBACK, 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self.relay, args=(connection,), daemon=True).start()

    def relay(self, connection: socket.socket) -> None:
        with connection:
            request = read_request(connection)
            with socket.create_connection((local_services.LOOPBACK, self.upstream_port)) as upstream:
                upstream.sendall(request)
                answer = b""
                while chunk := upstream.recv(65536):  # moto closes every connection after its answer
                    answer += chunk
            self.forwarded.append(request)
            if DROPPED_CALL in request and not self.dropped:
                self.dropped.append(request)
                return  # carried out by moto, never answered
            connection.sendall(answer)

    def close(self) -> None:
        self.server.close()


def test_a_create_retried_after_its_answer_was_lost_does_not_fail_the_apply(tmp_path, tf_env, model_dir):
    from endpoint_helpers import running_moto

    with running_moto(tmp_path, set_environment=False) as moto_url:
        proxy = DropFirstAnswer(int(moto_url.rsplit(":", 1)[1]))
        try:
            env = deploy.prepare("local", tmp_path / "work", endpoint_url=f"http://127.0.0.1:{proxy.port}")
            env.process_env["TF_CLI_CONFIG_FILE"] = tf_env["TF_CLI_CONFIG_FILE"]
            # Placeholder keys: only the catalog tables (and what they depend on) are applied.
            package = packaging.Package(variables=ARTIFACTS, test_auc=packaging.model_test_auc(model_dir))
            packaging.write_variables(package, env.artifacts_file)
            deploy.init(env)
            try:
                env.run(
                    "apply", "-input=false", "-auto-approve", "-no-color", *env.var_args(), f"-target={TABLES}",
                    capture=True,
                )  # fmt: skip
                failure = None
            except deploy.DeployError as exc:
                failure = str(exc)
        finally:
            proxy.close()
        assert proxy.dropped, "the proxy saw no CreateTable: the apply did not create a catalog table"
        retried = proxy.dropped[0].split(b"\r\n\r\n", 1)[1]
        assert [r for r in proxy.forwarded if r.endswith(retried)][1:], "the provider did not retry the call"
        assert failure is None, f"the apply failed after the retried CreateTable:\n{failure[-3000:]}"
        call = json.loads(retried)
        glue = boto3.client("glue", endpoint_url=moto_url, region_name=env.region, **_credentials())
        created = glue.get_tables(DatabaseName=call["DatabaseName"])["TableList"]
        assert call["TableInput"]["Name"] in {table["Name"] for table in created}


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": local_services.LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": local_services.LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }
