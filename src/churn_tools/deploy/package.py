"""Package what the jobs and the endpoint need, under content-addressed keys of the artifacts bucket.

The package: the job package's wheel, the Glue entry scripts, the dependency wheels (Glue workers may have
no internet), model.tar.gz + feature_spec.json + metrics.json (+ baseline.json and dataset.json where the model
has them).
Every key holds a hash of its content, so an unchanged file keeps its key (and Terraform sees no change) and a
new model gets a new key (and rolls the endpoint).

Besides the keys, Terraform gets the data's columns (`data_columns`): the catalog columns of the model's dataset
description, which the scored and source catalog tables open with (the tutorial's for a model trained before
descriptions, as the jobs score it); and the model's test AUC (`model_test_auc`, from its metrics.json), which
the model-quality alarm's threshold is made from (that AUC minus the quality job's auc_margin).

`python -m churn_tools.deploy.package --model-dir DIR --out FILE` computes the keys and writes the
Terraform variables (no upload); `upload()` puts the files into the bucket once it exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.model import ModelDir, ModelDirError
from churn_tools.deploy import wheels
from churn_tools.project import project_root

# Glue entry script per job; the glue module's variables batch_script_key / stream_script_key /
# quality_script_key point at them. The quality job runs on the batch job's Glue version, with its wheels.
ENTRY_SCRIPTS = {
    "batch_script_key": "glue_batch_scoring.py",
    "stream_script_key": "glue_stream_scoring.py",
    "quality_script_key": "glue_quality.py",
}


@dataclass(frozen=True)
class GlueRuntime:
    """What a Glue version runs a job's Python on: its Spark (pyspark) and its CPython (major.minor)."""

    spark: str
    python: str


# Spark and Python of each Glue version (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html).
# Dependency wheels are resolved per Python; the test suite's Glue runtime matrix (tests/glue_runtimes.py)
# runs the jobs on each version the tfvars use, on its pyspark, from the wheels this module uploads.
GLUE_RUNTIMES = {
    "6.0": GlueRuntime(spark="4.1.1", python="3.13"),
    "5.1": GlueRuntime(spark="3.5.6", python="3.11"),
    "5.0": GlueRuntime(spark="3.5.4", python="3.11"),
    "4.0": GlueRuntime(spark="3.3.0", python="3.10"),
}
GLUE_PYTHON = {version: runtime.python for version, runtime in GLUE_RUNTIMES.items()}
# Glue 5.x runs on Amazon Linux 2023 (glibc 2.34): any of these wheel platforms install there.
WHEEL_PLATFORMS = wheels.GLUE_WHEEL_PLATFORMS
# A fixed timestamp makes the job wheel byte-for-byte reproducible, hence its key stable.
REPRODUCIBLE_EPOCH = "315532800"


class PackagingError(RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_key(prefix: str, path: Path) -> str:
    return f"{prefix}/{sha256_file(path)[:32]}/{path.name}"


@dataclass
class Package:
    """Local files and the bucket keys they go to, plus the Terraform `artifacts` variable and the description
    of the model's data (its columns become the `data_columns` variable)."""

    files: dict[str, Path] = field(default_factory=dict)  # key -> local file
    variables: dict = field(default_factory=dict)
    description: DatasetDescription = field(default_factory=tutorial)
    # The AUC training measured on the model's held-out test rows (metrics.json): no default, a deploy without it
    # would alarm on a made-up figure.
    test_auc: float | None = None

    def add(self, key: str, path: Path) -> str:
        self.files[key] = path
        return key

    def terraform_variables(self) -> dict:
        """What the environment roots take from the packaging step: `artifacts`, the data's `data_columns`
        and `data_named_queries`, and the model's `model_test_auc`."""
        from churn_tools import analytics

        if self.test_auc is None:
            raise PackagingError(
                "the package has no model test AUC (metrics.json's test.auc): nothing to alarm from"
            )
        return {
            "model_test_auc": self.test_auc,
            "artifacts": self.variables,
            "data_columns": self.description.catalog_columns(),
            "data_named_queries": {
                name: {"description": text, "template": template}
                for name, (text, template) in analytics.data_query_templates(self.description).items()
            },
        }


# The job wheel is built from churn_pipeline alone (the runtime); the workstation tools (churn_tools) never ship
# to Glue, so editing one changes neither the wheel nor its key. Its metadata is the project's own: the name of
# the runtime distribution, pyproject's version, Python requirement and runtime dependencies.
JOB_PACKAGE = "churn_pipeline"
JOB_DISTRIBUTION = "churn-pipeline"


def job_wheel_sources(repo_root: Path) -> list[Path]:
    """Every file the job wheel is built from: the runtime package's files (code and package data)."""
    package_dir = repo_root / "src" / JOB_PACKAGE
    return sorted(
        path
        for path in package_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def job_pyproject(repo_root: Path) -> str:
    """pyproject.toml of the job wheel, derived from the project's: its build system and metadata."""
    with open(repo_root / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)
    meta = project["project"]
    package_data = project.get("tool", {}).get("setuptools", {}).get("package-data", {}).get(JOB_PACKAGE, [])
    return "\n".join(
        [
            "[build-system]",
            f"requires = {json.dumps(project['build-system']['requires'])}",
            f"build-backend = {json.dumps(project['build-system']['build-backend'])}",
            "",
            "[project]",
            f"name = {json.dumps(JOB_DISTRIBUTION)}",
            f"version = {json.dumps(meta['version'])}",
            f"requires-python = {json.dumps(meta['requires-python'])}",
            f"dependencies = {json.dumps(meta['dependencies'])}",
            "",
            "[tool.setuptools.packages.find]",
            'where = ["src"]',
            f'include = ["{JOB_PACKAGE}", "{JOB_PACKAGE}.*"]',
            "",
            "[tool.setuptools.package-data]",
            f"{JOB_PACKAGE} = {json.dumps(package_data)}",
            "",
        ]
    )


def _source_digest(repo_root: Path) -> str:
    """The job wheel's cache key: its pyproject and every file of the runtime package, nothing else."""
    digest = hashlib.sha256(job_pyproject(repo_root).encode())
    for path in job_wheel_sources(repo_root):
        digest.update(str(path.relative_to(repo_root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def build_job_wheel(repo_root: Path, cache_dir: Path) -> Path:
    """The wheel of the runtime package, built once per source state (cached under cache_dir).

    Built from a staged copy (the runtime package and its derived pyproject), so the wheel cannot pick up a
    tool module, and two builds at once (two deploys, two test workers) never share a build directory.
    """
    digest = _source_digest(repo_root)
    out = cache_dir / "job-wheel" / digest
    built = sorted(out.glob("*.whl"))
    if built:
        return built[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="job-wheel-", dir=out.parent) as tmp:
        source, wheels = Path(tmp) / "source", Path(tmp) / "wheels"
        for path in job_wheel_sources(repo_root):
            target = source / path.relative_to(repo_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        (source / "pyproject.toml").write_text(job_pyproject(repo_root))
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels),
                   str(source)]  # fmt: skip
        result = subprocess.run(
            command,
            env={**os.environ, "SOURCE_DATE_EPOCH": REPRODUCIBLE_EPOCH},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise PackagingError(f"building the job wheel failed ({' '.join(command)}):\n{result.stderr}")
        try:
            wheels.rename(out)
        except OSError:
            # A concurrent build of the same sources got there first: its wheel is the same bytes.
            if not sorted(out.glob("*.whl")):
                raise
    return sorted(out.glob("*.whl"))[0]


def runtime_requirements(repo_root: Path) -> list[str]:
    """The job package's runtime dependencies, as pyproject.toml declares them."""
    with open(repo_root / "pyproject.toml", "rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def download_dependency_wheels(repo_root: Path, python_version: str, cache_dir: Path) -> list[Path]:
    """Linux x86_64 wheels of the runtime dependencies (and theirs) for one CPython, pinned by requirements.lock,
    with environment markers evaluated for the Glue worker, not this host (deploy.wheels); cached."""
    try:
        return wheels.dependency_wheels(repo_root, wheels.Target(python_version, WHEEL_PLATFORMS), cache_dir)
    except wheels.WheelResolutionError as exc:
        raise PackagingError(f"dependency wheels for Python {python_version}: {exc}") from exc


def model_test_auc(model_dir: Path) -> float:
    """The AUC training recorded for the model's held-out test rows (metrics.json `test.auc`); a clear error if
    it is absent or not an AUC."""
    model = ModelDir(model_dir)
    try:
        auc = model.metrics().get("test", {}).get("auc")
    except (OSError, ValueError, AttributeError) as exc:
        raise PackagingError(f"{model.metrics_path} cannot be read for the model's test AUC: {exc}") from exc
    if isinstance(auc, bool) or not isinstance(auc, int | float) or not 0.0 <= auc <= 1.0:
        raise PackagingError(
            f"{model.metrics_path} has no test AUC between 0 and 1 (test.auc = {auc!r}): the model-quality "
            "alarm's threshold is made from it; train the model again with `make train`"
        )
    return float(auc)


def model_files(model_dir: Path) -> tuple[Path, Path, str]:
    """model.tar.gz, feature_spec.json and the model version from metrics.json; a clear error if absent."""
    model = ModelDir(model_dir)
    try:
        model.require(ModelDir.DEPLOY_FILES)
        return model.archive, model.spec_path, model.recorded_version()
    except ModelDirError as exc:
        raise PackagingError(str(exc)) from exc


def build(
    model_dir: Path,
    jobs_dir: Path,
    cache_dir: Path,
    glue_versions: dict[str, str],
    dependency_wheels: bool = True,
    repo_root: Path | None = None,
    job_wheel: Path | None = None,
) -> Package:
    """Collect every file and compute its key; builds the job wheel and downloads dependency wheels if asked."""
    repo_root = repo_root or project_root()
    pythons = {job: GLUE_PYTHON.get(glue_versions[job]) for job in ("batch", "stream")}
    for job, python in pythons.items():
        if python is None:
            raise PackagingError(
                f"unknown Glue version {glue_versions[job]!r} for the {job} job; known: {sorted(GLUE_PYTHON)}"
            )
    package = Package()
    scripts = {}
    for variable, script in ENTRY_SCRIPTS.items():
        path = jobs_dir / script
        if not path.is_file():
            raise PackagingError(
                f"entry script {path} is missing (the Glue job's script_location points at it)"
            )
        scripts[variable] = package.add(content_key("code", path), path)

    archive, spec, version = model_files(model_dir)
    model = ModelDir(model_dir)
    # The training baseline (drift) and the dataset description go beside them where the model has them (a
    # model from before has none: the jobs then score with the tutorial's description, and so do the tables).
    optional = [p for p in (model.baseline_path, model.description_path) if p.is_file()]
    # metrics.json too: the quality job reads the model's own test AUC from it (its alarm threshold, summary).
    side_files = [*optional, model.metrics_path]
    digest = hashlib.sha256(
        b"".join(bytes.fromhex(sha256_file(p)) for p in (archive, spec, *side_files))
    ).hexdigest()[:32]
    model_prefix = f"models/{digest}/"
    model_key = package.add(model_prefix + ModelDir.ARCHIVE, archive)
    for path in side_files:
        package.add(model_prefix + path.name, path)
    package.add(model_prefix + ModelDir.SPEC, spec)
    try:
        package.description = model.description()
    except ContractError as exc:
        raise PackagingError(f"the model's dataset description cannot be read: {exc}") from exc
    package.test_auc = model_test_auc(model_dir)

    if job_wheel is None:
        job_wheel = build_job_wheel(repo_root, cache_dir)
    elif not job_wheel.is_file() or job_wheel.suffix != ".whl":
        raise PackagingError(f"--job-wheel {job_wheel} is not a wheel file")
    modules = {}
    for job, python in pythons.items():
        wheels = [job_wheel]
        if dependency_wheels:
            wheels += download_dependency_wheels(repo_root, python, cache_dir)
        modules[job] = [package.add(content_key("wheels", wheel), wheel) for wheel in wheels]

    package.variables = {
        **scripts,
        "model_artifact_key": model_key,
        "model_prefix": model_prefix,
        "model_version": version,
        "batch_python_modules": modules["batch"],
        "stream_python_modules": modules["stream"],
    }
    return package


def upload(package: Package, bucket: str, s3_client) -> list[str]:
    """Put every file not yet in the bucket (keys are content hashes: an existing key holds the same bytes)."""
    uploaded = []
    for key, path in sorted(package.files.items()):
        try:
            s3_client.head_object(Bucket=bucket, Key=key)
            continue
        except s3_client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3_client.upload_file(str(path), bucket, key)
        uploaded.append(key)
    return uploaded


def write_variables(package: Package, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(package.terraform_variables(), indent=2, sort_keys=True) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Compute artifact keys and write the Terraform variables artifacts, data_columns, "
        "data_named_queries and model_test_auc."
    )
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--jobs-dir", type=Path, default=None, help="default: jobs/ of the checkout")
    parser.add_argument("--cache", type=Path, default=Path(".work/package-cache"))
    parser.add_argument("--batch-glue-version", default="6.0")
    parser.add_argument("--stream-glue-version", default="5.1")
    parser.add_argument("--skip-dependency-wheels", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        package = build(
            args.model_dir,
            args.jobs_dir or project_root() / "jobs",
            args.cache,
            {"batch": args.batch_glue_version, "stream": args.stream_glue_version},
            dependency_wheels=not args.skip_dependency_wheels,
        )
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(write_variables(package, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
