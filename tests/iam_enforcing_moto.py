"""moto server that authorises requests by the resource they name, and logs every decision.

    python tests/iam_enforcing_moto.py -H 127.0.0.1 -p 5000    # the arguments of `python -m moto.server`

moto 5.2.5 evaluates the identity policies of the credentials a request carries (an IAM user's keys or
sts:AssumeRole credentials) once `POST /moto-api/reset-auth` (or INITIAL_NO_AUTH_ACTION_COUNT) turns that on,
but it names the request's resource only for S3 (bucket/key), SQS, IAM roles and sts:AssumeRole: every other
request is checked against the resource "*", so a statement scoped to a stream, key or endpoint ARN never
matches it and any least-privilege policy denies everything. It also evaluates an identity policy's Condition
with no request values, which lets every condition pass. This module supplies what moto leaves out, for the
services the churn roles use, as AWS's Service Authorization Reference defines it:
- the resource ARN(s) of Kinesis, KMS, SageMaker (runtime and control plane), Glue catalog and CloudWatch Logs
  requests (a Glue catalog request is checked against catalog, database and table, each of which must be
  allowed, https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html);
- the condition key cloudwatch:namespace of PutMetricData
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html);
- the IAM prefix of CloudWatch's actions (`cloudwatch:`; moto uses the signing name `monitoring:`);
- a JSON line per decision in $IAM_DECISION_LOG: principal, action, resource, context, allowed.
The evaluation itself (statement matching, Allow/Deny, the StringEquals operator) is moto's, unchanged; what it
still does not evaluate is listed in terraform/README.md ("What the local IAM check cannot see").
Everything else is churn_tools.local.moto_server (moto with constant-time Kinesis puts).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from urllib.parse import unquote

from moto.iam.access_control import IAMPolicy, IAMRequestBase, PermissionResult

# moto prefixes an action with the request's signing name; IAM names a few services otherwise.
IAM_PREFIXES = {"monitoring:": "cloudwatch:"}
ENABLE_PATH = "/moto-api/reset-auth"  # POST "0": authorise every request from now on; "inf": none
_request = threading.local()  # what the response object found out about the request being authorised
_log_lock = threading.Lock()


def arn(response, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{resource}"


def kinesis_resources(response) -> list[str]:
    stream_arn = response._get_param("StreamARN")
    if stream_arn:
        return [stream_arn]
    name = response._get_param("StreamName")
    iterator = response._get_param("ShardIterator")
    if not name and iterator:
        from moto.kinesis.utils import decompose_shard_iterator

        name = decompose_shard_iterator(iterator)[0]  # moto's iterators carry the stream name
    return [arn(response, "kinesis", f"stream/{name}")] if name else ["*"]


def kms_resources(response) -> list[str]:
    key_id = response._get_param("KeyId")
    blob = response._get_param("CiphertextBlob")
    if not key_id and blob:
        from moto.kms.utils import KEY_ID_LEN

        blob = base64.b64decode(blob) if isinstance(blob, str) else blob
        key_id = blob[:KEY_ID_LEN].decode()  # moto's ciphertexts start with their key id
    if not key_id:
        return ["*"]
    backend = response.kms_backend
    known = not key_id.startswith("alias/") or backend.alias_exists(key_id)
    key = backend.keys.get(backend.any_id_to_key_id(key_id)) if known else None
    return [key.arn] if key else ["*"]  # an unknown key: "*", which no key-scoped statement allows


def sagemaker_runtime_resources(response) -> list[str]:
    name = unquote(response.path.split("/")[2])  # /endpoints/{name}/invocations
    return [arn(response, "sagemaker", f"endpoint/{name.lower()}")]


def sagemaker_resources(response) -> list[str]:
    for param, kind in (
        ("EndpointName", "endpoint"),
        ("ModelName", "model"),
        ("EndpointConfigName", "endpoint-config"),
    ):
        name = response._get_param(param)
        if name:
            return [arn(response, "sagemaker", f"{kind}/{name.lower()}")]
    return ["*"]


def glue_resources(response) -> list[str]:
    action = response._get_action()
    catalog = arn(response, "glue", "catalog")
    if action in ("GetDatabase", "CreateDatabase", "DeleteDatabase", "UpdateDatabase"):
        name = response._get_param("Name") or response._get_param("DatabaseInput", {}).get("Name")
        return [catalog, arn(response, "glue", f"database/{name}")]
    database = response._get_param("DatabaseName")
    if not database:
        return [catalog]
    table = (
        response._get_param("Name")
        or response._get_param("TableName")
        or response._get_param("TableInput", {}).get("Name")
    )
    tables = f"table/{database}/{table}" if table else f"table/{database}/*"
    return [catalog, arn(response, "glue", f"database/{database}"), arn(response, "glue", tables)]


def logs_resources(response) -> list[str]:
    group = response._get_param("logGroupName")
    if not group:
        return ["*"]
    stream = response._get_param("logStreamName")
    return [arn(response, "logs", f"log-group:{group}" + (f":log-stream:{stream}" if stream else ""))]


def cloudwatch_context(response) -> dict[str, str]:
    namespace = response._get_param("Namespace")
    return {"cloudwatch:namespace": namespace} if namespace is not None else {}


def no_context(_response) -> dict[str, str]:
    return {}


def everything(_response) -> list[str]:
    return ["*"]


def authorise_by_resource(response_class, resources, context=no_context) -> None:
    """Authorise each request of response_class once per resource it names, with its condition context."""

    def authorise(self, resource: str = "*") -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        _request.context = context(self)
        try:
            for each in resources(self):
                self._authenticate_and_authorize_action(IAMRequest, each)
        finally:
            _request.context = {}

    from moto.iam.access_control import IAMRequest

    response_class._authenticate_and_authorize_normal_action = authorise


def log_decision(request: IAMRequestBase, resource: str, context: dict, allowed: bool) -> None:
    path = os.environ.get("IAM_DECISION_LOG")
    if not path:
        return
    line = json.dumps({"principal": request._access_key.arn, "action": request._action, "resource": resource,
                       "context": context, "allowed": allowed})  # fmt: skip
    with _log_lock, open(path, "a") as handle:
        handle.write(line + "\n")


def check_action_permitted(self: IAMRequestBase, resource: str) -> None:
    """moto's IAMRequestBase.check_action_permitted, with the request's condition context and a log line."""
    if self._action == "sts:GetCallerIdentity":  # always allowed, as on AWS and in moto
        return
    for signing, prefix in IAM_PREFIXES.items():
        if self._action.startswith(signing):
            self._action = prefix + self._action.removeprefix(signing)
    context = dict(getattr(_request, "context", None) or {})
    permitted = denied = False
    for policy in self._access_key.collect_policies():
        result = IAMPolicy(policy).is_action_permitted(self._action, resource, None, context or None)
        denied = denied or result == PermissionResult.DENIED
        permitted = permitted or result == PermissionResult.PERMITTED
    if not denied and permitted and self._is_assuming_role_operation(resource):
        permitted = self._check_role_trust_relationship(resource)
    allowed = permitted and not denied
    log_decision(self, resource, context, allowed)
    if not allowed:
        self._raise_access_denied()


def install() -> None:
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.glue.responses import GlueResponse
    from moto.kinesis.responses import KinesisResponse
    from moto.kms.responses import KmsResponse
    from moto.logs.responses import LogsResponse
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    IAMRequestBase.check_action_permitted = check_action_permitted
    authorise_by_resource(KinesisResponse, kinesis_resources)
    authorise_by_resource(KmsResponse, kms_resources)
    authorise_by_resource(SageMakerRuntimeResponse, sagemaker_runtime_resources)
    authorise_by_resource(SageMakerResponse, sagemaker_resources)
    authorise_by_resource(GlueResponse, glue_resources)
    authorise_by_resource(LogsResponse, logs_resources)
    authorise_by_resource(CloudWatchResponse, everything, cloudwatch_context)


def main() -> None:
    from churn_tools.local.moto_server import (
        main as moto_main,  # moto, with its Kinesis put made constant-time
    )

    install()
    moto_main()


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------- for the tests: start, switch, read the log
def start(port: int, log_path, decisions_path):
    """This server on loopback:port, enforcing nothing until `enforce(url, True)`; returns the process."""
    import sys
    from pathlib import Path

    from churn_tools.local import services as local_services

    url = f"http://{local_services.LOOPBACK}:{port}"
    return local_services.start_background(
        [sys.executable, str(Path(__file__).resolve()), "-H", local_services.LOOPBACK, "-p", str(port)],
        log_path,
        env={**os.environ, **local_services.LOCAL_AWS_ENV, "IAM_DECISION_LOG": str(decisions_path)},
        ready_url=f"{url}/moto-api/",
    )


def enforce(url: str, on: bool) -> None:
    """Authorise every request from now on (moto's INITIAL_NO_AUTH_ACTION_COUNT set to 0), or none (inf)."""
    import urllib.request

    request = urllib.request.Request(
        f"{url}{ENABLE_PATH}",
        data=b"0" if on else b"inf",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )  # a form body would be parsed away
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200, answer.read()


def decisions(path) -> list[dict]:
    """Every decision logged so far, in order."""
    from pathlib import Path

    file = Path(path)
    return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []
