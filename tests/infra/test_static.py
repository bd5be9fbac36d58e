"""Static checks of the Terraform code with python-hcl2: the properties reviewers must not have to re-check by eye."""

from __future__ import annotations

import json
import re

from churn_pipeline.batch import glue as batch_glue
from churn_pipeline.quality import glue as quality_glue
from churn_pipeline.streaming import glue as stream_glue
from churn_tools.deploy import package as packaging

from .conftest import JOBS_DIR, MODULE_DIRS, ROOT_DIRS, TERRAFORM, blocks, load_hcl

STORAGE = TERRAFORM / "modules" / "storage"
GLUE = TERRAFORM / "modules" / "glue"

JOB_SCRIPTS = {
    "batch": "glue_batch_scoring.py",
    "stream": "glue_stream_scoring.py",
    "quality": "glue_quality.py",
}
# What each entry script resolves with getResolvedOptions (Glue itself passes JOB_NAME).
JOB_ARGUMENTS = {
    "glue_batch_scoring.py": batch_glue.JOB_ARGUMENTS,
    "glue_stream_scoring.py": stream_glue.JOB_ARGUMENTS,
    "glue_quality.py": quality_glue.JOB_ARGUMENTS,
}


def required_args(script: str) -> list[str]:
    """The names an entry script asks getResolvedOptions for: JOB_NAME and its package's JOB_ARGUMENTS."""
    source = (JOBS_DIR / script).read_text()
    assert 'getResolvedOptions(sys.argv, ["JOB_NAME", *JOB_ARGUMENTS])' in source, script
    return ["JOB_NAME", *JOB_ARGUMENTS[script]]


def is_glue_own(name: str) -> bool:
    """A DefaultArguments key Glue itself consumes (--TempDir, --job-language, --enable-metrics, ...)."""
    return name == "--TempDir" or "-" in name.removeprefix("--")


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
def test_every_entry_script_exists():
    missing = [script for script in JOB_SCRIPTS.values() if not (JOBS_DIR / script).exists()]
    assert not missing, f"the Glue jobs point at entry scripts not in jobs/: {missing}"


def test_streaming_job_has_no_timeout_and_runs_gluestreaming():
    stream = glue_locals()["jobs"]["stream"]
    assert stream["command"] == "gluestreaming" and stream["timeout"] is None
    assert (
        glue_locals()["jobs"]["batch"]["command"] == glue_locals()["jobs"]["quality"]["command"] == "glueetl"
    )


def test_the_quality_job_runs_on_the_batch_job_s_glue_version_and_wheels():
    """One upload set per Glue version: the packaging step resolves wheels for the batch and streaming jobs'
    versions only (package.build), so the quality job must run on the batch job's."""
    quality = glue_locals()["jobs"]["quality"]
    assert (
        quality["wheels"]
        == glue_locals()["jobs"]["batch"]["wheels"]
        == "${var.artifacts.batch_python_modules}"
    )
    assert "var.batch_job.glue_version" in quality["settings"]  # modules/glue/tests: the planned version


def test_script_locations_are_keys_the_packaging_step_uploads(model_dir, tmp_path):
    job = next(b for t, n, b in blocks(GLUE, "resource") if t == "aws_glue_job")
    assert job["command"][0]["script_location"] == "${local.s3.artifacts}/${each.value.script_key}"
    script_vars = {job: glue_locals()["jobs"][job]["script_key"] for job in JOB_SCRIPTS}
    assert script_vars == {job: f"${{var.artifacts.{job}_script_key}}" for job in JOB_SCRIPTS}

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
        "batch_script_key", "stream_script_key", "quality_script_key", "model_artifact_key", "model_prefix",
        "model_version", "batch_python_modules", "stream_python_modules",
    }  # fmt: skip
    # The model-quality alarm's threshold starts from the model's own test AUC, as training recorded it.
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert package.terraform_variables()["model_test_auc"] == metrics["test"]["auc"]


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


# ---------------------------------------------------------------- saved queries (Athena) on DuckDB
def _write_rows(con, root, name: str, select: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT {select}) TO '{root / name}.parquet' (FORMAT parquet)")


def test_saved_queries_on_streaming_tables_read_the_last_7_days_only(tmp_path):
    """The analytics module's queries, rendered as the demo renders them, in DuckDB: they run unchanged, and rows
    that arrived before the 7-day window are left out (a range on the time column the Iceberg tables are
    partitioned by, so Athena reads only those days' files)."""
    import datetime

    import duckdb

    from churn_tools.analytics import load_named_queries

    con = duckdb.connect()
    now = datetime.datetime.now(datetime.UTC)
    for name, age_days in (("recent", 0), ("last_week", 6), ("stale", 10), ("last_year", 400)):
        when = now - datetime.timedelta(days=age_days)
        arrival = f"TIMESTAMPTZ '{when.isoformat()}' AS kinesis_arrival_time"
        _write_rows(
            con, tmp_path / "stream", name,
            f"'{name}' AS record_id, '555-0100' AS Phone, 0.5 AS churn_probability, true AS churn_prediction, "
            f"'v1' AS model_version, {arrival}, now() AS scored_at",
        )  # fmt: skip
        _write_rows(con, tmp_path / "dead", name, f"'{name}' AS error_code, {arrival}")
        _write_rows(
            con, tmp_path / "stream_drift", name,
            f"'{name}' AS feature, 'numeric' AS kind, 0.25 AS psi, 5000 AS rows, 'v1' AS model_version, "
            f"TIMESTAMPTZ '{when.isoformat()}' AS computed_at",
        )  # fmt: skip
    (tmp_path / "batch").mkdir()
    con.execute(
        f"COPY (SELECT 'CA' AS State, true AS churn_prediction, 0.5 AS churn_probability) "
        f"TO '{tmp_path / 'batch' / 'b.parquet'}' (FORMAT parquet)"
    )
    con.execute('CREATE SCHEMA "db"')
    con.execute(f"""CREATE VIEW "db"."b" AS SELECT * FROM read_parquet('{tmp_path}/batch/*.parquet')""")
    con.execute(
        f"COPY (SELECT * FROM (VALUES ('Day Mins', 'numeric', 0.3, 999), ('State', 'categorical', 0.12, 3000)) "
        f"v(feature, kind, psi, rows), (SELECT 'v1' AS model_version, now() AS computed_at)) "
        f"TO '{tmp_path / 'batch_drift.parquet'}' (FORMAT parquet)"
    )
    con.execute(f"""CREATE VIEW "db"."x" AS SELECT * FROM read_parquet('{tmp_path}/batch_drift.parquet')""")
    for view, folder in (("s", "stream"), ("d", "dead"), ("y", "stream_drift")):
        con.execute(
            f"""CREATE VIEW "db"."{view}" AS SELECT * FROM read_parquet('{tmp_path}/{folder}/*.parquet')"""
        )

    # Two quality runs (one batch_id folder each): the query reads the latest run's rows only.
    for run, computed_at, auc in (("r1", "2026-02-01 06:00:00", 0.7), ("r2", "2026-02-02 06:00:00", 0.8)):
        (tmp_path / "quality" / f"batch_id={run}").mkdir(parents=True)
        con.execute(
            f"COPY (SELECT * FROM (VALUES ('v1', '2026-W04'), ('v1', '2026-W05'), ('v2', '2026-W05')) "
            f"w(model_version, score_week), (SELECT 100 AS rows, 20 AS positives, CAST({auc} AS DOUBLE) AS auc, 0.4 AS log_loss, "
            f"0.5 AS precision, 0.6 AS recall, 0.5 AS threshold, TIMESTAMP '{computed_at}' AS computed_at)) "
            f"TO '{tmp_path / 'quality' / f'batch_id={run}' / 'part.parquet'}' (FORMAT parquet)"
        )
    con.execute(
        f"""CREATE VIEW "db"."q" AS SELECT * FROM read_parquet('{tmp_path}/quality/*/*.parquet', hive_partitioning = true)"""
    )

    tables = {
        "batch": "b",
        "stream": "s",
        "dead_letter": "d",
        "drift": "x",
        "stream_drift": "y",
        "quality": "q",
    }
    queries = {q.name: q for q in load_named_queries("db", tables)}  # the tutorial's description
    assert set(queries) == {
        "churn_rate_by_state",
        "churn_rate_by_area_code",
        "churn_rate_by_int_l_plan",
        "churn_rate_by_vmail_plan",
        "score_deciles",
        "latest_predictions",
        "dead_letter_summary",
        "drift_report",
        "model_quality",
    }
    for name, column in (("latest_predictions", "kinesis_arrival_time"), ("dead_letter_summary", "kinesis_arrival_time"),
                         ("drift_report", "computed_at")):  # fmt: skip
        assert f"WHERE {column} >= current_timestamp - INTERVAL '7' DAY" in queries[name].sql, name
    latest = con.execute(queries["latest_predictions"].sql).fetchall()
    assert [(row[0], row[1]) for row in latest] == [("recent", "555-0100"), ("last_week", "555-0100")]
    summary = {row[0]: row[1] for row in con.execute(queries["dead_letter_summary"].sql).fetchall()}
    assert summary == {"recent": 1, "last_week": 1}
    assert con.execute(queries["churn_rate_by_state"].sql).fetchall() == [("CA", 1, 1.0, 0.5)]
    assert con.execute(queries["score_deciles"].sql).fetchall() == [(1, 1, 0.5, 0.5, 1.0)]
    # Drift: both jobs' rows, the stream's of the last 7 days only; a reading from the package's thresholds.
    quality = con.execute(queries["model_quality"].sql).fetchall()
    assert [(row[0], row[1], row[4]) for row in quality] == [
        ("v1", "2026-W05", 0.8), ("v1", "2026-W04", 0.8), ("v2", "2026-W05", 0.8)
    ]  # fmt: skip
    drift_rows = con.execute(queries["drift_report"].sql).df()
    readings = dict(zip(drift_rows["job"] + ":" + drift_rows["feature"], drift_rows["reading"], strict=True))
    assert readings == {
        "batch:Day Mins": "too few rows",  # 999 < drift.MIN_ROWS
        "batch:State": "watch",
        "stream:recent": "significant",  # 0.25 >= the alarm's 0.2
        "stream:last_week": "significant",
    }


# ---------------------------------------------------------------- service principals
def _statements_for(principal: str):
    for directory, name, body in _policy_documents():
        statements = [*body.get("statement", [])]
        for dynamic in body.get(
            "dynamic", []
        ):  # python-hcl2: [{"statement": {"for_each": ..., "content": [...]}}]
            if "statement" in dynamic:
                statements += dynamic["statement"]["content"]
        for statement in statements:
            identifiers = [i for p in statement.get("principals", []) for i in p.get("identifiers", [])]
            if principal in identifiers:
                yield f"{directory.name}/{name}/{statement.get('sid')}", statement


def test_eventbridge_is_granted_without_conditions():
    """EventBridge deliveries to an encrypted SNS topic fail silently when the key or topic policy conditions
    events.amazonaws.com (e.g. on aws:SourceAccount): AWS documents both grants without a condition."""
    found = dict(_statements_for("events.amazonaws.com"))
    assert set(found) == {
        "storage/key/EventBridgeDeliversToEncryptedTopics",
        "monitoring/topic/EventBridgeRulesPublish",
    }
    assert all("condition" not in statement for statement in found.values()), found


def test_cloudwatch_logs_may_use_the_key_for_named_log_groups_only():
    [(where, statement)] = [
        (where, s) for where, s in _statements_for("logs.${data.aws_region.current.name}.amazonaws.com")
    ]
    assert where == "storage/key/CloudWatchLogsEncryptsTheseLogGroups"
    [condition] = statement["condition"]
    assert condition["test"] == "ArnLike" and condition["variable"] == "kms:EncryptionContext:aws:logs:arn"
