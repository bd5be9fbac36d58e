"""`make plan|deploy|destroy ENV=...`: package, upload, and run Terraform on an environment root.

deploy:  credentials check -> package (keys) -> apply what the upload and the Iceberg tables need (the artifacts
         bucket, private, versioned, encrypted; the Glue database, the results bucket) -> create or evolve the
         jobs' Iceberg tables (deploy.tables) -> upload to content-addressed keys -> apply everything.
plan:    credentials check -> package (keys only) -> saved plan + readable summary (also JSON) + a record of the
         plan's inputs (tfplan.inputs.json: digests of the artifacts variables and terraform.tfvars, the model).
apply:   the saved, reviewed plan: refused if its inputs changed since (the record), else upload, create or
         evolve the jobs' tables, `terraform apply tfplan` (no re-plan). The artifacts bucket must exist (the first deployment is a `deploy`).
destroy: destroy everything; fails loudly (non-zero, with what is left) if anything survives.
refresh: `terraform apply -refresh-only`: the state takes what AWS has (after a rolled-back rollout).

After every apply, the endpoint is checked against what Terraform planned: DescribeEndpoint must report the
endpoint configuration in state and InService; a rollout the guardrails rolled back fails the command, keeps the
configuration and model the endpoint still serves, and names the command that brings the state back in line. An
autoscaled endpoint's live instance count is passed to Terraform, so a rollout does not scale it in.

Every command takes the model explicitly (--model: a model directory or the s3:// prefix of one); only ENV=local
falls back to .work/model (which `make` trains if absent). The model's source, version and metrics are recorded
in model.json beside the plan.

ENV=local runs against moto server: AWS_ENDPOINT_URL (or --endpoint-url), or one started here and kept
running for later plan/destroy (stopped by destroy). dev and prod need AWS credentials and TF_STATE_BUCKET.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import hcl2

from churn_pipeline.contract import outputs as contract_outputs
from churn_pipeline.model import ModelDir, ModelDirError
from churn_tools.deploy import lockcheck
from churn_tools.deploy import package as packaging
from churn_tools.deploy import tables as job_tables
from churn_tools.deploy.providers import ProviderNotFound, discover, terraform_env
from churn_tools.local import services as local_services
from churn_tools.project import ProjectNotFound, project_root

ENVIRONMENTS = ("local", "dev", "prod")
STORAGE_TARGET = "module.pipeline.module.storage"
# What an upload needs before the first full apply: the artifacts bucket private, versioned, encrypted by default
# with the project key, and (where set) TLS-only. The rest, lifecycle rules included (the provider waits about a
# minute for them to settle), comes with the full apply, alongside everything else.
UPLOAD_TARGETS = (
    f'{STORAGE_TARGET}.aws_s3_bucket_server_side_encryption_configuration.this["artifacts"]',
    f'{STORAGE_TARGET}.aws_s3_bucket_versioning.this["artifacts"]',
    f'{STORAGE_TARGET}.aws_s3_bucket_public_access_block.this["artifacts"]',
    f"{STORAGE_TARGET}.aws_s3_bucket_policy.this",
)

GLUE_DATABASE_ADDRESS = "module.pipeline.module.glue.aws_glue_catalog_database.this"
# What the jobs' Iceberg tables need before the deploy step creates them (deploy.tables, after the targeted
# apply, before the full one): the Glue database, the bucket of their warehouse private and encrypted by default
# with the project key (the bucket and the key come with these). The jobs come with the full apply.
TABLE_TARGETS = (
    GLUE_DATABASE_ADDRESS,
    f'{STORAGE_TARGET}.aws_s3_bucket_server_side_encryption_configuration.this["{contract_outputs.TABLE_WAREHOUSE.bucket}"]',
    f'{STORAGE_TARGET}.aws_s3_bucket_public_access_block.this["{contract_outputs.TABLE_WAREHOUSE.bucket}"]',
)


MODEL_ENDPOINT = "module.pipeline.module.model_endpoint"
ENDPOINT_ADDRESS = f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint.this"
CONFIG_ADDRESS = f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint_configuration.this"
MODEL_ADDRESS = f"{MODEL_ENDPOINT}.aws_sagemaker_model.this"
SCALING_ADDRESSES = (
    f"{MODEL_ENDPOINT}.aws_appautoscaling_policy.this[0]",
    f"{MODEL_ENDPOINT}.aws_appautoscaling_target.this[0]",
)
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# The endpoint is settling while in these; the check waits for it (the provider's own waiter does not know
# RollingBack: terraform-provider-aws internal/service/sagemaker/endpoint.go waitEndpointInService, #48997).
SETTLING = ("Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")


class DeployError(RuntimeError):
    pass


# `terraform plan`'s options besides the plan file and the variables. No state lock: with use_lockfile the S3
# backend writes and deletes <key>.tflock for every locking operation, a plan included (HashiCorp's S3 backend
# page, "Permissions Required"), and the plan role is read-only. A plan writes no state, and a saved plan made
# while an apply ran is refused by `terraform apply tfplan` (the state's serial moved on: "Saved plan is stale"),
# so the lock protects nothing here; whereas Put/DeleteObject on the lock key, for a role every pull request's
# code runs as, would let a pull request delete a running apply's lock or hold one to block deploys.
PLAN_OPTIONS = ("-input=false", "-lock=false")
DEFAULT_LOCAL_MODEL = ".work/model"
INPUTS_FILE = "tfplan.inputs.json"


@dataclass
class Environment:
    name: str
    root: Path
    work: Path  # .work/terraform/<env>: state (local), plan, variables, TF_DATA_DIR
    tfvars: dict
    process_env: dict[str, str]
    extra_vars: list[str]
    backend_config: list[str]
    jobs_dir: Path | None = None  # default: jobs/ of the checkout
    job_wheel: Path | None = None  # a prebuilt wheel of the job package (CI builds once, deploys many)

    @property
    def artifacts_file(self) -> Path:
        return self.work / "artifacts.tfvars.json"

    @property
    def region(self) -> str:
        return self.tfvars["region"]

    def run(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        command = ["terraform", f"-chdir={self.root}", *args]
        print("+ " + " ".join(command), file=sys.stderr, flush=True)
        if capture:
            result = subprocess.run(command, env=self.process_env, text=True, capture_output=True)
        else:
            # Terraform's progress goes to stderr, so stdout carries only this CLI's result (deploy's JSON).
            result = subprocess.run(command, env=self.process_env, text=True, stdout=_stderr_fd())
        if result.returncode != 0:
            detail = f":\n{result.stderr}" if capture else " (its output is above)"
            raise DeployError(f"terraform {args[0]} failed in {self.root} (exit {result.returncode}){detail}")
        return result

    def var_args(self) -> list[str]:
        return [f"-var-file={self.artifacts_file}", *self.extra_vars]


# ---------------------------------------------------------------- credentials and the local AWS
def _stderr_fd() -> int | None:
    """This process's stderr as a file descriptor for a child; None (the child inherits stdout) when stderr
    is not backed by a file, as under a capturing test runner."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, io.UnsupportedOperation):
        return None


def _moto_pid_file(work: Path) -> local_services.PidFile:
    return local_services.PidFile(work / "moto.json")


def local_endpoint(work: Path, given: str | None) -> str:
    """The moto endpoint for ENV=local: given, or one this tool started before, or a new detached one."""
    if given:
        host = urllib.parse.urlparse(given).hostname
        if host not in ("127.0.0.1", "localhost"):
            raise DeployError(f"ENV=local only talks to a loopback emulator, but the endpoint is {given}")
        return given
    pid_file = _moto_pid_file(work)
    if pid_file.running_pid() is not None:
        return pid_file.read()["url"]
    pid_file.remove()
    port = local_services.free_port()
    process = local_services.start_moto(port, work / "moto.log")
    url = f"http://{local_services.LOOPBACK}:{port}"
    pid_file.write(process.pid, url=url)
    print(
        f"started moto server at {url} (pid {process.pid}); `make destroy ENV=local` stops it",
        file=sys.stderr,
    )
    return url


def stop_started_moto(work: Path) -> None:
    pid_file = _moto_pid_file(work)
    record = pid_file.read()
    if record is None:
        return
    try:
        local_services.stop_pid(int(record["pid"]))
    except RuntimeError as exc:
        raise DeployError(f"the moto server this tool started does not stop: {exc}") from exc
    pid_file.remove()


def require_aws_credentials(env_name: str) -> None:
    """dev/prod: fail fast, before any packaging or Terraform, when no AWS credentials resolve."""
    import boto3
    import botocore.exceptions

    try:
        credentials = boto3.Session().get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        raise DeployError(f"ENV={env_name} needs AWS credentials, and resolving them failed: {exc}") from exc
    if credentials is None:
        raise DeployError(
            f"ENV={env_name} needs AWS credentials and none were found (no AWS_ACCESS_KEY_ID, AWS_PROFILE, "
            "SSO session or instance role). Configure them, e.g. `aws sso login --profile X` and "
            "AWS_PROFILE=X, or use ENV=local, which needs none."
        )


def prepare(
    env_name: str, work_dir: Path, endpoint_url: str | None = None, mirror: str | None = None
) -> Environment:
    if env_name not in ENVIRONMENTS:
        raise DeployError(f"ENV must be one of {', '.join(ENVIRONMENTS)}, not {env_name!r}")
    root = project_root() / "terraform" / "envs" / env_name
    work = Path(work_dir).resolve() / "terraform" / env_name
    work.mkdir(parents=True, exist_ok=True)
    with open(root / "terraform.tfvars") as handle:
        tfvars = hcl2.load(handle)
    try:
        process_env = terraform_env(Path(work_dir), mirror)
        # init would refuse a provider whose hash the committed lock lacks (a Mac, an arm64 runner): say so first.
        lockcheck.check(root, discover(mirror).path)
    except (ProviderNotFound, lockcheck.LockMissingPlatform) as exc:
        raise DeployError(str(exc)) from exc
    process_env["TF_DATA_DIR"] = str(work / "terraform-data")
    extra_vars: list[str] = []
    if env_name == "local":
        url = local_endpoint(work, endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
        process_env.update(local_services.LOCAL_AWS_ENV)
        process_env["AWS_REGION"] = process_env["AWS_DEFAULT_REGION"] = tfvars["region"]
        process_env["AWS_ENDPOINT_URL"] = url
        extra_vars.append(f"-var=endpoint_url={url}")
        backend_config = [f"-backend-config=path={work / 'terraform.tfstate'}"]
    else:
        require_aws_credentials(env_name)
        state_bucket = os.environ.get("TF_STATE_BUCKET")
        if not state_bucket:
            raise DeployError(
                f"ENV={env_name} keeps its state in S3: set TF_STATE_BUCKET to the (existing, versioned) state bucket"
            )
        backend_config = [
            f"-backend-config=bucket={state_bucket}",
            f"-backend-config=region={tfvars['region']}",
        ]
    return Environment(env_name, root, work, tfvars, process_env, extra_vars, backend_config)


def init(env: Environment) -> None:
    env.run("init", "-input=false", "-reconfigure", *env.backend_config)


def write_artifact_variables(env: Environment, model_dir: Path, dependency_wheels: bool) -> packaging.Package:
    jobs = env.tfvars["settings"]["jobs"]
    glue_versions = {job: jobs[job]["glue_version"] for job in ("batch", "stream")}
    package = packaging.build(
        Path(model_dir),
        env.jobs_dir or project_root() / "jobs",
        Path(env.work).parent.parent / "package-cache",
        glue_versions,
        dependency_wheels=dependency_wheels,
        job_wheel=env.job_wheel,
    )
    packaging.write_variables(package, env.artifacts_file)
    return package


# ---------------------------------------------------------------- the model, chosen explicitly
def resolve_model(env: Environment, source: str) -> tuple[Path, dict]:
    """A model directory (or the s3:// prefix of one, fetched under the env's work dir) and its record: source,
    version and metrics (from metrics.json, via churn_pipeline.model.ModelDir), written to model.json."""
    if source.startswith("s3://"):
        directory = _fetch_model(env, source)
    else:
        directory = Path(source)
    model = ModelDir(directory)
    try:
        model.require(ModelDir.DEPLOY_FILES)
        record = {"source": source, "version": model.recorded_version(), "metrics": model.metrics()}
    except ModelDirError as exc:
        raise DeployError(f"the model {source} cannot be deployed: {exc}") from exc
    (env.work / "model.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"model {record['version']} from {source}", file=sys.stderr)
    return directory, record


def _fetch_model(env: Environment, uri: str) -> Path:
    parsed = urllib.parse.urlparse(uri)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not prefix:
        raise DeployError(f"a model URI is s3://<bucket>/<prefix>/ of a model directory, not {uri!r}")
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    target = env.work / "model"
    target.mkdir(parents=True, exist_ok=True)
    client = _s3_client(env)
    for name in ModelDir.DEPLOY_FILES:
        try:
            client.download_file(bucket, prefix + name, str(target / name))
        except client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise DeployError(
                f"s3://{bucket}/{prefix}{name} cannot be read ({code}): a model URI names the S3 prefix of a "
                f"model directory holding {', '.join(ModelDir.DEPLOY_FILES)}"
            ) from exc
    # Where the model has them: its drift baseline, and the description of its data (the catalog tables' columns).
    for name in (ModelDir.BASELINE, ModelDir.DESCRIPTION):
        try:
            client.download_file(bucket, prefix + name, str(target / name))
        except client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise DeployError(f"s3://{bucket}/{prefix}{name} cannot be read: {exc}") from exc
            (target / name).unlink(missing_ok=True)  # a model from before it: none, not a stale one
    return target


def _sha256(path: Path) -> str:
    return packaging.sha256_file(path) if path.is_file() else "absent"


def plan_inputs(env: Environment, model: dict) -> dict:
    """What a saved plan was made from: the digests of its variable files and the model's version."""
    return {
        "env": env.name,
        "model_version": model["version"],
        "model_source": model["source"],
        "artifacts.tfvars.json": _sha256(env.artifacts_file),
        "terraform.tfvars": _sha256(env.root / "terraform.tfvars"),
    }


def changed_inputs(recorded: dict, current: dict) -> list[str]:
    return [
        f"{name}: {recorded.get(name)} at review, {current[name]} now"
        for name in ("env", "model_version", "artifacts.tfvars.json", "terraform.tfvars")
        if recorded.get(name) != current[name]
    ]


def outputs(env: Environment) -> dict:
    result = env.run("output", "-json", capture=True)
    return {name: value["value"] for name, value in json.loads(result.stdout).items()}


def state_resources(env: Environment, deposed: bool = False) -> dict[str, dict]:
    """Attribute values of every resource in state, by address (works after a targeted apply, unlike outputs).
    Objects a create_before_destroy replacement deposed and has not destroyed yet are left out, or, with
    `deposed`, are all that is returned.

    Read with `terraform state pull` (the raw state, format version 4), not `terraform show -json`: show loads
    the provider's schema to render values, several seconds of CPU for hashicorp/aws on every call, while the
    raw state already holds each instance's attributes. Addresses are rebuilt as Terraform writes them:
    module path, `data.` for a data source, type.name, then the instance key (["key"] or [0])."""
    state = json.loads(env.run("state", "pull", capture=True).stdout or "{}")
    if state and state.get("version") != 4:
        raise DeployError(
            f"terraform state pull in {env.root}: state format {state.get('version')}, expected 4"
        )
    found: dict[str, dict] = {}
    for resource in state.get("resources", []):
        kind = "data" if resource["mode"] == "data" else None
        base = ".".join(
            part for part in (resource.get("module"), kind, resource["type"], resource["name"]) if part
        )
        for instance in resource["instances"]:
            if ("deposed" in instance) != deposed:
                continue
            key = instance.get("index_key")
            found[base if key is None else f"{base}[{json.dumps(key)}]"] = instance["attributes"]
    return found


def _client(env: Environment, service: str):
    import boto3

    if env.name == "local":
        return boto3.client(
            service,
            region_name=env.region,
            endpoint_url=env.process_env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env.process_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env.process_env["AWS_SECRET_ACCESS_KEY"],
        )
    return boto3.client(service, region_name=env.region)


def _s3_client(env: Environment):
    return _client(env, "s3")


def create_job_tables(env: Environment, model_dir: Path) -> list[str]:
    """The batch job's and the stream's Iceberg tables for the model deployed, created (or evolved) through the Glue catalog of the
    environment (moto's for ENV=local), after the targeted apply of TABLE_TARGETS; their identifiers."""
    state = state_resources(env)
    purpose = contract_outputs.TABLE_WAREHOUSE.bucket
    bucket = state.get(f'{STORAGE_TARGET}.aws_s3_bucket.this["{purpose}"]')
    database = state.get(GLUE_DATABASE_ADDRESS)
    if bucket is None or database is None:
        raise DeployError(
            f"ENV={env.name} has no Glue database or {purpose} bucket yet, so the Iceberg tables cannot be "
            f"created: the first deployment is `make deploy ENV={env.name} MODEL=...`"
        )
    try:
        with job_tables.aws_environment(env.process_env):
            identifiers = job_tables.ensure_job_tables(
                model_dir, {purpose: bucket["bucket"]}, database["name"], env.region
            )
    except job_tables.TableDeployError as exc:
        raise DeployError(str(exc)) from exc
    print(f"Iceberg tables: {', '.join(identifiers)}", file=sys.stderr)
    return identifiers


# ---------------------------------------------------------------- the endpoint: its fleet, its rollouts
@dataclass
class Fleet:
    """The deployed endpoint's variant as AWS has it: its live instance count, the count its configuration
    started with (in state), and whether Application Auto Scaling owns the count (a registered target)."""

    endpoint: str
    variant: str
    live_count: int
    configured_count: int
    autoscaled: bool


def deployed_fleet(env: Environment, state: dict[str, dict]) -> Fleet | None:
    """None before the endpoint exists, and for a serverless one (no instances)."""
    endpoint, config = state.get(ENDPOINT_ADDRESS), state.get(CONFIG_ADDRESS)
    if endpoint is None or config is None:
        return None
    [variant] = config["production_variants"]
    if not variant.get("initial_instance_count"):
        return None
    described = _client(env, "sagemaker").describe_endpoint(EndpointName=endpoint["name"])
    live = next(v for v in described["ProductionVariants"] if v["VariantName"] == variant["variant_name"])
    targets = _client(env, "application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[f"endpoint/{endpoint['name']}/variant/{variant['variant_name']}"],
        ScalableDimension=SCALABLE_DIMENSION,
    )["ScalableTargets"]
    return Fleet(
        endpoint=endpoint["name"],
        variant=variant["variant_name"],
        live_count=live.get("DesiredInstanceCount", live.get("CurrentInstanceCount", 0)),
        configured_count=variant["initial_instance_count"],
        autoscaled=bool(targets),
    )


def _config_change(plan_json: dict) -> dict | None:
    return next(
        (c["change"] for c in plan_json.get("resource_changes", []) if c["address"] == CONFIG_ADDRESS), None
    )


def replaces_only_for_the_count(plan_json: dict) -> bool:
    """Whether the plan replaces the endpoint configuration for its instance count alone (`replace_paths`)."""
    change = _config_change(plan_json)
    if change is None or "delete" not in change["actions"] or "create" not in change["actions"]:
        return False
    paths = change.get("replace_paths") or []
    return bool(paths) and all(path[-1] == "initial_instance_count" for path in paths)


def instance_type_change(plan_json: dict) -> tuple[str, str] | None:
    """(old, new) instance type when the plan replaces the endpoint configuration with another instance type."""
    change = _config_change(plan_json)
    if change is None or not change.get("before") or not change.get("after"):
        return None
    before = change["before"]["production_variants"][0].get("instance_type")
    after = change["after"]["production_variants"][0].get("instance_type")
    return (before, after) if before and after and before != after else None


def plan_rollout(
    env: Environment,
    plan_file: Path,
    fleet: Fleet | None,
    options: tuple[str, ...] = ("-input=false", "-lock-timeout=60s"),
) -> dict:
    """Save a plan that keeps an autoscaled fleet's instance count; returns it as `terraform show -json`.

    UpdateEndpoint resets the variant to the new configuration's InitialInstanceCount (the provider cannot send
    RetainAllVariantProperties: terraform-provider-aws PR #49069), so a rollout of an autoscaled endpoint starts
    at the live count (`live_instance_count`). A count that changed alone is the autoscaler's business, not a
    reason to roll the endpoint: then the plan keeps the count the configuration has.
    """
    counts = [fleet.live_count, fleet.configured_count] if fleet and fleet.autoscaled else [None]
    for count in counts:
        fleet_vars = [] if count is None else [f"-var=live_instance_count={count}"]
        env.run("plan", *options, f"-out={plan_file}", *env.var_args(), *fleet_vars)
        shown = json.loads(env.run("show", "-json", str(plan_file), capture=True).stdout)
        if count is None or not replaces_only_for_the_count(shown):
            break
        print(
            f"the endpoint's live count ({fleet.live_count}) differs from its configuration's "
            f"({fleet.configured_count}) and nothing else changes it: planning without a rollout",
            file=sys.stderr,
        )
    return shown


def instance_type_refusal(env: Environment, plan_json: dict, fleet: Fleet | None) -> str | None:
    """Why this plan cannot be applied as it is: a new instance type on a variant that is a scalable target."""
    change = instance_type_change(plan_json)
    if change is None or fleet is None or not fleet.autoscaled:
        return None
    # "If the update would change the instance type for any model that is a target for auto scaling, the update
    # fails": delete the scaling policies and deregister the target first, update, register again
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html).
    return (
        f"the endpoint configuration's instance type changes from {change[0]} to {change[1]} while "
        f"{fleet.endpoint}/{fleet.variant} is an Application Auto Scaling target: SageMaker refuses that "
        "UpdateEndpoint (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html)"
    )


def deregister_for_instance_type(env: Environment) -> None:
    """Delete the scaling policy and deregister the target (Terraform's own destroy of the two), so the apply
    that follows updates the endpoint first and then registers both again (they depend on the endpoint)."""
    print(
        "deregistering the endpoint's autoscaling before the instance type changes; the apply registers it again "
        f"after the endpoint update (if that apply fails, `make deploy ENV={env.name}` again restores it)",
        file=sys.stderr,
    )
    targets = [f"-target={address}" for address in SCALING_ADDRESSES]
    env.run(
        "apply", "-destroy", "-input=false", "-auto-approve", "-lock-timeout=60s", *env.var_args(), *targets
    )


def wait_until_settled(
    env: Environment, name: str, timeout_seconds: float = 3600, poll_seconds: float = 15
) -> dict:
    """DescribeEndpoint once the endpoint is out of every transitional status (or the timeout passed)."""
    import time

    sagemaker = _client(env, "sagemaker")
    deadline = time.monotonic() + timeout_seconds
    while True:
        described = sagemaker.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] not in SETTLING or time.monotonic() > deadline:
            return described
        print(f"endpoint {name} is {described['EndpointStatus']}: waiting", file=sys.stderr)
        time.sleep(poll_seconds)


def refresh_command(env: Environment) -> str:
    return f"make refresh ENV={env.name}"


def rollout_problem(env: Environment) -> str | None:
    """What is wrong when the endpoint does not serve the configuration Terraform created for it, else None."""
    state = state_resources(env)
    endpoint, config = state.get(ENDPOINT_ADDRESS), state.get(CONFIG_ADDRESS)
    if endpoint is None or config is None:
        return None
    described = wait_until_settled(env, endpoint["name"])
    served, status, planned = described["EndpointConfigName"], described["EndpointStatus"], config["name"]
    if served == planned and status == "InService":
        return None
    reason = f" (FailureReason: {described['FailureReason']})" if described.get("FailureReason") else ""
    lines = [
        f"the endpoint {endpoint['name']} is {status} on endpoint configuration {served}, not on {planned}, "
        f"which this apply created for it{reason}."
    ]
    if served != planned:
        lines[0] = "the rollout was rolled back: " + lines[0]
        kept = {
            address: values["name"]
            for address, values in state_resources(env, deposed=True).items()
            if address in (CONFIG_ADDRESS, MODEL_ADDRESS)
        }
        if kept.get(CONFIG_ADDRESS) == served:
            lines.append(
                f"Kept: {served} and its model {kept.get(MODEL_ADDRESS, '(not replaced)')}, which the endpoint "
                "still runs on; Terraform holds them as deposed objects and deletes them only after a rollout "
                "that succeeds."
            )
        else:
            lines.append(
                f"{served} is not one Terraform keeps: if it was deleted, SageMaker can neither scale nor update "
                "the endpoint (terraform-provider-aws #48997); check `aws sagemaker describe-endpoint-config "
                f"--endpoint-config-name {served}`."
            )
        if endpoint["endpoint_config_name"] == served:
            lines.append(f"Terraform's state already records that the endpoint serves {served}.")
        else:
            lines.append(
                f"Terraform's state records {endpoint['endpoint_config_name']}: bring it back in line with "
                f"`{refresh_command(env)}` (terraform apply -refresh-only: the state takes what DescribeEndpoint "
                "says and AWS is left as it is; no import, since nothing left the state)."
            )
        lines.append(
            "See why the rollback alarms fired (the endpoint's 5xx and latency alarms, the new model's logs), "
            f"then deploy again: the next `make deploy ENV={env.name}` rolls the endpoint again."
        )
    return "\n".join(lines)


def check_endpoint(env: Environment, apply_error: DeployError | None = None) -> None:
    """After an apply (also one that failed): fail, saying why, unless the endpoint serves what was planned."""
    problem = rollout_problem(env)
    if problem is not None:
        failed = f"\n(terraform apply: {apply_error})" if apply_error else ""
        raise DeployError(problem + failed)
    if apply_error is not None:
        raise apply_error


def refresh(env: Environment) -> None:
    """`terraform apply -refresh-only`: the state takes what AWS has; nothing in AWS changes."""
    if not env.artifacts_file.exists():
        raise DeployError(f"{env.artifacts_file} is missing: refresh an environment this checkout deployed")
    init(env)
    env.run("apply", "-refresh-only", "-input=false", "-auto-approve", "-lock-timeout=60s", *env.var_args())
    print(f"ENV={env.name}: Terraform's state now records what AWS has", file=sys.stderr)


# ---------------------------------------------------------------- plan summary
ACTION_LABELS = {
    ("create",): "create",
    ("update",): "update in place",
    ("delete",): "destroy",
    ("create", "delete"): "replace (create before destroy)",
    ("delete", "create"): "replace (destroy before create)",
    ("read",): "read",
}


def summarize_plan(plan_json: dict) -> dict:
    """Counts per action and the changed resources, from `terraform show -json <plan>`."""
    changes = []
    for change in plan_json.get("resource_changes", []):
        actions = tuple(change["change"]["actions"])
        if actions in (("no-op",), ("read",)):
            continue
        changes.append(
            {"address": change["address"], "action": ACTION_LABELS.get(actions, "/".join(actions))}
        )
    counts: dict[str, int] = {}
    for change in changes:
        counts[change["action"]] = counts.get(change["action"], 0) + 1
    return {"counts": counts, "changes": changes}


def format_summary(env_name: str, summary: dict) -> str:
    if not summary["changes"]:
        return f"Plan for ENV={env_name}: no changes.\n"
    lines = [
        f"Plan for ENV={env_name}: " + ", ".join(f"{n} to {a}" for a, n in sorted(summary["counts"].items()))
    ]
    lines += [f"  {c['action']:<32} {c['address']}" for c in summary["changes"]]
    return "\n".join(lines) + "\n"


def plan(env: Environment, model_source: str, dependency_wheels: bool) -> dict:
    model_dir, model = resolve_model(env, model_source)
    write_artifact_variables(env, model_dir, dependency_wheels)
    init(env)
    plan_file = env.work / "tfplan"
    inputs_file = env.work / INPUTS_FILE
    inputs_file.unlink(missing_ok=True)  # no record beside a plan that failed half-way
    fleet = deployed_fleet(env, state_resources(env))
    shown = plan_rollout(env, plan_file, fleet, PLAN_OPTIONS)
    refusal = instance_type_refusal(env, shown, fleet)
    if refusal:
        print(
            f"warning: {refusal}; `make apply` refuses this plan, `make deploy` deregisters first",
            file=sys.stderr,
        )
    inputs_file.write_text(json.dumps(plan_inputs(env, model), indent=2, sort_keys=True) + "\n")
    # The machine-readable plan, for reviews (make plan-summary PLAN_JSON=...) and tests.
    (env.work / "tfplan.json").write_text(json.dumps(shown))
    summary = summarize_plan(shown)
    (env.work / "plan-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = format_summary(env.name, summary)
    (env.work / "plan-summary.txt").write_text(text)
    print(text, end="")
    print(f"saved plan: {plan_file}\nsummary:    {env.work / 'plan-summary.txt'}", file=sys.stderr)
    return summary


def deploy(env: Environment, model_source: str, dependency_wheels: bool) -> dict:
    model_dir, _ = resolve_model(env, model_source)
    package = write_artifact_variables(env, model_dir, dependency_wheels)
    init(env)
    apply_args = ["apply", "-input=false", "-auto-approve", "-lock-timeout=60s", *env.var_args()]
    # The artifacts bucket has to exist before anything is uploaded to it, and the Iceberg tables' database and
    # bucket before the tables are created; everything else needs the uploads, and the optimizers the tables.
    env.run(*apply_args, *[f"-target={target}" for target in (*UPLOAD_TARGETS, *TABLE_TARGETS)])
    create_job_tables(env, model_dir)
    bucket = state_resources(env)[f'{STORAGE_TARGET}.aws_s3_bucket.this["artifacts"]']["bucket"]
    uploaded = packaging.upload(package, bucket, _s3_client(env))
    print(
        f"uploaded {len(uploaded)} new artifact(s) to s3://{bucket}/ ({len(package.files)} in the package)",
        file=sys.stderr,
    )
    fleet = deployed_fleet(env, state_resources(env))
    plan_file = env.work / "deploy.tfplan"
    shown = plan_rollout(env, plan_file, fleet)
    if instance_type_refusal(env, shown, fleet):
        deregister_for_instance_type(env)
        shown = plan_rollout(env, plan_file, fleet)
    try:
        env.run("apply", "-input=false", "-lock-timeout=60s", str(plan_file))
    except DeployError as failure:
        check_endpoint(env, failure)
    check_endpoint(env)
    return outputs(env)


def apply_plan(env: Environment, model_source: str, dependency_wheels: bool, plan_file: Path) -> dict:
    """Apply the saved, reviewed plan as it is; refused when what it was made from changed since."""
    inputs_file = plan_file.parent / INPUTS_FILE
    if not plan_file.is_file():
        raise DeployError(f"no saved plan at {plan_file}: make one with `make plan ENV={env.name} MODEL=...`")
    if not inputs_file.is_file():
        raise DeployError(
            f"no record of the inputs of {plan_file} ({inputs_file}): only a plan made by `make plan` is applied"
        )
    recorded = json.loads(inputs_file.read_text())
    model_dir, model = resolve_model(env, model_source)
    package = write_artifact_variables(env, model_dir, dependency_wheels)
    changed = changed_inputs(recorded, plan_inputs(env, model))
    if changed:
        raise DeployError(
            f"refusing to apply {plan_file}: its inputs changed since the plan was made and reviewed "
            f"({'; '.join(changed)}). Plan again (`make plan ENV={env.name} MODEL=...`) and review that plan."
        )
    init(env)
    bucket_address = f'{STORAGE_TARGET}.aws_s3_bucket.this["artifacts"]'
    state = state_resources(env)
    if bucket_address not in state:
        raise DeployError(
            f"ENV={env.name} has no artifacts bucket yet, so the reviewed plan's artifacts cannot be uploaded "
            f"before it is applied: the first deployment is `make deploy ENV={env.name} MODEL=...`"
        )
    bucket = state[bucket_address]["bucket"]
    uploaded = packaging.upload(package, bucket, _s3_client(env))
    print(f"uploaded {len(uploaded)} new artifact(s) to s3://{bucket}/", file=sys.stderr)
    # The reviewed plan deploys the jobs for this model: its Iceberg tables first (a new model's columns merged in).
    create_job_tables(env, model_dir)
    reviewed = plan_file.parent / "tfplan.json"
    if reviewed.is_file():
        refusal = instance_type_refusal(env, json.loads(reviewed.read_text()), deployed_fleet(env, state))
        if refusal:
            raise DeployError(
                f"refusing to apply {plan_file}: {refusal}. `make deploy ENV={env.name}` deregisters "
                "the target, updates the endpoint and registers it again, in that order."
            )
    try:
        env.run("apply", "-input=false", "-lock-timeout=60s", str(plan_file))
    except DeployError as failure:
        check_endpoint(env, failure)
    check_endpoint(env)
    return outputs(env)


def destroy(env: Environment, model_source: str | None) -> None:
    if not env.artifacts_file.exists():
        if model_source is None:
            raise DeployError(
                f"{env.artifacts_file} is missing: pass --model so the variables can be computed"
            )
        model_dir, _ = resolve_model(env, model_source)
        write_artifact_variables(env, model_dir, dependency_wheels=False)
    init(env)
    env.run("destroy", "-input=false", "-auto-approve", "-lock-timeout=60s", *env.var_args())
    left = env.run("state", "list", capture=True).stdout.split()
    if left:
        raise DeployError(
            f"destroy of ENV={env.name} left {len(left)} resource(s) in state: {', '.join(left)}"
        )
    if env.name == "local":
        stop_started_moto(env.work)
    print(f"ENV={env.name}: everything destroyed", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["plan", "apply", "deploy", "destroy", "refresh"])
    parser.add_argument("--env", required=True, help="local, dev or prod")
    parser.add_argument(
        "--model",
        "--model-dir",
        dest="model",
        default=None,
        help=f"the model to deploy: a model directory or its s3:// prefix (required outside ENV=local; "
        f"local default {DEFAULT_LOCAL_MODEL})",
    )
    parser.add_argument(
        "--plan", type=Path, default=None, help="apply: the saved plan (default .work/terraform/<env>/tfplan)"
    )
    parser.add_argument("--work", type=Path, default=Path(".work"))
    parser.add_argument(
        "--job-wheel", type=Path, default=None, help="prebuilt job package wheel (default: build it)"
    )
    parser.add_argument(
        "--jobs-dir",
        type=Path,
        default=None,
        help="where the Glue entry scripts are (default: jobs/ of the checkout)",
    )
    parser.add_argument(
        "--endpoint-url", default=None, help="ENV=local: the moto server (default AWS_ENDPOINT_URL)"
    )
    parser.add_argument(
        "--provider-mirror", default=None, help="Terraform provider mirror (default: discover)"
    )
    parser.add_argument(
        "--dependency-wheels",
        choices=["auto", "yes", "no"],
        default="auto",
        help="ship the dependency wheels (auto: not for ENV=local, where no Glue worker installs them)",
    )
    args = parser.parse_args(argv)
    dependency_wheels = args.dependency_wheels == "yes" or (
        args.dependency_wheels == "auto" and args.env != "local"
    )
    model = args.model
    if model is None and args.env == "local":
        model = DEFAULT_LOCAL_MODEL
    # (An unknown ENV is refused by prepare, naming the environments.)
    if model is None and args.command not in ("destroy", "refresh") and args.env in ENVIRONMENTS:
        print(
            f"error: ENV={args.env} deploys only a model chosen explicitly: pass --model <model directory or "
            "s3://bucket/prefix/ of one> (make ... MODEL=...); nothing is trained implicitly outside ENV=local",
            file=sys.stderr,
        )
        return 2
    try:
        env = prepare(args.env, args.work, args.endpoint_url, args.provider_mirror)
        env.jobs_dir, env.job_wheel = args.jobs_dir, args.job_wheel
        if args.command == "plan":
            plan(env, model, dependency_wheels)
        elif args.command == "apply":
            result = apply_plan(env, model, dependency_wheels, args.plan or env.work / "tfplan")
            print(json.dumps(result, indent=2))
        elif args.command == "deploy":
            result = deploy(env, model, dependency_wheels)
            print(json.dumps(result, indent=2))
        elif args.command == "refresh":
            refresh(env)
        else:
            destroy(env, model)
    except (DeployError, packaging.PackagingError, ProjectNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
