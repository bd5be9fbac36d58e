"""Static checks of the Terraform code with python-hcl2: the properties reviewers must not have to re-check by eye."""

from __future__ import annotations

import ast
import re

import pytest

from churn_pipeline.deploy import package as packaging
from churn_pipeline.schema import RAW_COLUMNS, canonical

from .conftest import JOBS_DIR, MODULE_DIRS, ROOT_DIRS, TERRAFORM, blocks, load_hcl

STORAGE = TERRAFORM / "modules" / "storage"
GLUE = TERRAFORM / "modules" / "glue"

# What the jobs resolve with getResolvedOptions, while an entry script is not on main yet (then its file is read).
EXPECTED_REQUIRED_ARGS = {
    "glue_batch_scoring.py": [
        "JOB_NAME", "input_path", "output_path", "rejects_path", "failed_path", "model_uri", "mode",
        "endpoint_name", "threshold", "output_format",
    ],
    "glue_stream_scoring.py": [
        "JOB_NAME", "stream_arn", "starting_position", "checkpoint_path", "output_path", "dead_letter_path",
        "model_uri", "mode", "endpoint_name", "threshold", "window_size",
    ],
}  # fmt: skip
JOB_SCRIPTS = {"batch": "glue_batch_scoring.py", "stream": "glue_stream_scoring.py"}


def required_args(script: str) -> list[str]:
    """REQUIRED_ARGS of an entry script, read with ast (the module-level list literal)."""
    path = JOBS_DIR / script
    if not path.exists():
        return EXPECTED_REQUIRED_ARGS[script]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "REQUIRED_ARGS" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no module-level REQUIRED_ARGS list literal")


def all_tf_dirs():
    return [*MODULE_DIRS, *ROOT_DIRS]


def glue_locals() -> dict:
    merged: dict = {}
    for block in load_hcl(GLUE / "main.tf").get("locals", []):
        merged.update(block)
    return merged


# ---------------------------------------------------------------- buckets
def _for_each_covers_every_bucket(body: dict) -> bool:
    return "aws_s3_bucket.this" in str(body.get("for_each", ""))


def test_only_the_storage_module_creates_buckets():
    owners = [d.name for d in all_tf_dirs() if any(t == "aws_s3_bucket" for t, _, _ in blocks(d, "resource"))]
    assert owners == ["storage"]


def test_every_bucket_is_encrypted_versioned_private_and_tls_only():
    resources = {(t, n): b for t, n, b in blocks(STORAGE, "resource")}
    data = {(t, n): b for t, n, b in blocks(STORAGE, "data")}
    assert [n for t, n in resources if t == "aws_s3_bucket"] == ["this"]

    encryption = resources[("aws_s3_bucket_server_side_encryption_configuration", "this")]
    default = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert _for_each_covers_every_bucket(encryption)
    assert default["sse_algorithm"] == "aws:kms" and "aws_kms_key.this" in default["kms_master_key_id"]

    versioning = resources[("aws_s3_bucket_versioning", "this")]
    assert _for_each_covers_every_bucket(versioning)
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"

    public_access = resources[("aws_s3_bucket_public_access_block", "this")]
    assert _for_each_covers_every_bucket(public_access)
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    assert all(public_access[flag] is True for flag in flags)

    policy = resources[("aws_s3_bucket_policy", "this")]
    assert "aws_s3_bucket.this" in policy["for_each"] and "tls_only[each.key].json" in policy["policy"]
    deny = data[("aws_iam_policy_document", "tls_only")]["statement"][0]
    assert deny["effect"] == "Deny" and deny["condition"][0]["variable"] == "aws:SecureTransport"
    assert deny["condition"][0]["values"] == ["false"]


def test_tls_only_policy_is_dropped_in_the_local_root_only():
    storage_vars = {
        name: body for block in load_hcl(STORAGE / "variables.tf")["variable"] for name, body in block.items()
    }
    assert storage_vars["tls_only_policy"]["default"] is True
    for root in ROOT_DIRS:
        text = (root / "main.tf").read_text() + (root / "terraform.tfvars").read_text()
        assert ("tls_only_bucket_policy = false" in text) == (root.name == "local"), root


# ---------------------------------------------------------------- IAM
def _policy_documents():
    for directory in all_tf_dirs():
        for type_name, name, body in blocks(directory, "data"):
            if type_name == "aws_iam_policy_document":
                yield directory, name, body


def test_no_statement_allows_every_action():
    for directory, name, body in _policy_documents():
        for statement in body.get("statement", []):
            if statement.get("effect", "Allow") != "Allow" or "actions" not in statement:
                continue
            wildcards = [a for a in statement["actions"] if a == "*" or a.endswith(":*")]
            assert not wildcards, f"{directory.name}/{name} allows {wildcards}"


def test_star_resource_only_with_a_reason_next_to_it():
    for directory in all_tf_dirs():
        lines = (directory / "main.tf").read_text().splitlines() if (directory / "main.tf").exists() else []
        for number, line in enumerate(lines):
            if re.search(r'resources\s*=\s*\["\*"\]', line):
                context = "\n".join(lines[max(0, number - 4) : number])
                assert "#" in context, (
                    f"{directory.name}/main.tf:{number + 1}: resource * without a comment saying why"
                )


def test_no_full_access_managed_policy():
    for path in TERRAFORM.rglob("*.tf"):
        assert not re.search(r"FullAccess", path.read_text()), path
    attachments = [
        n for d in all_tf_dirs() for t, n, _ in blocks(d, "resource") if t.endswith("policy_attachment")
    ]
    assert attachments == [], "roles get inline least-privilege policies only"


# ---------------------------------------------------------------- Glue jobs vs entry scripts
@pytest.mark.parametrize("job", ["batch", "stream"])
def test_job_arguments_are_what_the_entry_script_resolves(job):
    arguments = glue_locals()[f"{job}_job_arguments"]
    script_args = set(required_args(JOB_SCRIPTS[job])) - {"JOB_NAME"}  # Glue itself passes JOB_NAME
    assert {key.removeprefix("--") for key in arguments} == script_args
    jobs = {n: b for t, n, b in blocks(GLUE, "resource") if t == "aws_glue_job"}
    assert list(jobs) == ["this"] and "each.value.arguments" in jobs["this"]["default_arguments"]
    assert f"local.{job}_job_arguments" in str(glue_locals()["jobs"][job]["arguments"])


def test_every_entry_script_exists():
    missing = [script for script in JOB_SCRIPTS.values() if not (JOBS_DIR / script).exists()]
    assert not missing, f"the Glue jobs point at entry scripts not in jobs/: {missing}"


def test_streaming_job_has_no_timeout_and_runs_gluestreaming():
    stream = glue_locals()["jobs"]["stream"]
    assert stream["command"] == "gluestreaming" and stream["timeout"] is None
    assert glue_locals()["jobs"]["batch"]["command"] == "glueetl"


def test_script_locations_are_keys_the_packaging_step_uploads(model_dir, tmp_path):
    job = next(b for t, n, b in blocks(GLUE, "resource") if t == "aws_glue_job")
    assert job["command"][0]["script_location"] == "${local.s3.artifacts}/${each.value.script_key}"
    script_vars = {job: glue_locals()["jobs"][job]["script_key"] for job in JOB_SCRIPTS}
    assert script_vars == {
        "batch": "${var.artifacts.batch_script_key}",
        "stream": "${var.artifacts.stream_script_key}",
    }

    # The packaging step uploads exactly those keys, holding exactly those files.
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    for script in JOB_SCRIPTS.values():
        (jobs_dir / script).write_text(f"REQUIRED_ARGS = []  # {script}\n")
    package = packaging.build(
        model_dir, jobs_dir, tmp_path / "cache", {"batch": "6.0", "stream": "5.1"}, dependency_wheels=False
    )
    for job, script in JOB_SCRIPTS.items():
        key = package.variables[f"{job}_script_key"]
        assert package.files[key] == jobs_dir / script
        assert re.fullmatch(rf"code/[0-9a-f]{{32}}/{script}", key)
    assert package.variables["model_artifact_key"] in package.files
    assert set(package.variables) == {
        "batch_script_key", "stream_script_key", "model_artifact_key", "model_prefix", "model_version",
        "batch_python_modules", "stream_python_modules",
    }  # fmt: skip


def test_kinesis_table_columns_are_the_raw_record():
    table = next(
        b for t, n, b in blocks(GLUE, "resource") if t == "aws_glue_catalog_table" and n == "kinesis_source"
    )
    assert table["name"] == "kinesis_customer_churn"
    types = {"string": "string", "int": "int", "double": "double"}
    expected = [{"name": canonical(c.name), "type": types[c.kind]} for c in RAW_COLUMNS]
    assert glue_locals()["raw_columns"] == expected


# ---------------------------------------------------------------- environments
def test_every_environment_sets_the_same_settings():
    shapes = {}
    for root in ROOT_DIRS:
        tfvars = load_hcl(root / "terraform.tfvars")
        shapes[root.name] = (
            set(tfvars),
            set(tfvars["settings"]),
            {k: set(v) for k, v in tfvars["settings"]["jobs"].items()},
        )
    assert shapes["local"] == shapes["dev"] == shapes["prod"]


def test_remote_state_with_locking_for_dev_and_prod():
    for root in ROOT_DIRS:
        terraform = load_hcl(root / "main.tf")["terraform"][0]
        backend = terraform["backend"][0]
        if root.name == "local":
            assert list(backend) == ["local"]
        else:
            s3 = backend["s3"]
            assert (
                s3["use_lockfile"] is True
                and s3["encrypt"] is True
                and s3["key"].endswith(f"/{root.name}/terraform.tfstate")
            )
        assert not any("provider" in load_hcl(p) for p in ROOT_DIRS[0].parent.parent.glob("modules/*/*.tf"))


def test_only_the_local_root_talks_to_an_emulator():
    for root in ROOT_DIRS:
        provider = load_hcl(root / "main.tf")["provider"][0]["aws"]
        if root.name == "local":
            assert set(provider["endpoints"][0].values()) == {"${var.endpoint_url}"}
        else:
            assert "endpoints" not in provider and "skip_credentials_validation" not in provider
        assert "access_key" not in provider and "secret_key" not in provider
