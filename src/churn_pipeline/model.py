"""The model directory (`ModelDir`), its version, and a scorer that applies it.

A model directory holds `model.tar.gz` (the SageMaker-compatible archive), `dataset.json` (the description of
the data it was trained on: every scorer reads its raw schema from it), `feature_spec.json` (the input
contract derived from it) and `metrics.json` (the model version and its evaluation). `ModelDir` is the one place that knows
those names: training writes through it, scoring, deploy and the local tools read through it.
`model.tar.gz` holds exactly one file, `xgboost-model`, because the built-in XGBoost container loads
every file of the archive as a member of an ensemble.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_pipeline import drift
from churn_pipeline.contract import dataset
from churn_pipeline.contract.dataset import DESCRIPTION_FILENAME, DatasetDescription
from churn_pipeline.contract.features import SPEC_FILENAME, EncodedBatch, FeatureSpec, encode

MODEL_FILENAME = "xgboost-model"
ARCHIVE_FILENAME = "model.tar.gz"
METRICS_FILENAME = "metrics.json"
BASELINE_FILENAME = drift.BASELINE_FILENAME

log = logging.getLogger(__name__)


class ModelDirError(FileNotFoundError):
    """A model directory lacks a file it must hold; the message names the files and how to make them."""


def model_version(
    model_bytes: bytes,
    spec: FeatureSpec,
    baseline_json: str | None = None,
    description_json: str | None = None,
) -> str:
    """Content hash of model + spec (+ the training baseline and the dataset description where there are):
    equal artifacts give equal versions, on any machine; a model directory from before baselines or
    descriptions keeps its version."""
    digest = hashlib.sha256()
    digest.update(model_bytes)
    digest.update(spec.to_json().encode())
    if baseline_json is not None:
        digest.update(baseline_json.encode())
    if description_json is not None:
        digest.update(description_json.encode())
    return digest.hexdigest()[:16]


def booster_bytes(booster: xgb.Booster) -> bytes:
    # UBJSON, the format the container's xgboost 3.0.5 reads back with load_model.
    return bytes(booster.save_raw(raw_format="ubj"))


def write_archive(model_bytes: bytes, out_dir: str | Path) -> Path:
    """Write model.tar.gz with the single member `xgboost-model`, byte-for-byte reproducible."""
    path = Path(out_dir) / ARCHIVE_FILENAME
    info = tarfile.TarInfo(MODEL_FILENAME)
    info.size = len(model_bytes)
    info.mtime = 0
    info.mode = 0o644
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(info, io.BytesIO(model_bytes))
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return path


def read_model_bytes(model_dir: str | Path) -> bytes:
    """The booster bytes from MODEL_DIR/model.tar.gz, or from a bare MODEL_DIR/xgboost-model."""
    model_dir = Path(model_dir)
    archive = model_dir / ARCHIVE_FILENAME
    if archive.exists():
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            if names != [MODEL_FILENAME]:
                raise ValueError(f"{archive} must hold exactly one file {MODEL_FILENAME!r}, it holds {names}")
            member = tar.extractfile(MODEL_FILENAME)
            if member is None:
                raise ValueError(f"{archive}: {MODEL_FILENAME!r} is not a regular file")
            return member.read()
    bare = model_dir / MODEL_FILENAME
    if bare.exists():
        return bare.read_bytes()
    raise FileNotFoundError(f"no {ARCHIVE_FILENAME} or {MODEL_FILENAME} in {model_dir}")


@dataclass
class ScoredBatch:
    probabilities: np.ndarray  # float64 per valid row, input order
    encoded: EncodedBatch


class Scorer:
    """Model + spec loaded once; scores raw pandas rows through the shared `encode`."""

    def __init__(self, booster: xgb.Booster, spec: FeatureSpec, version: str):
        self.booster = booster
        self.spec = spec
        self.version = version

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> Scorer:
        model_dir = Path(model_dir)
        raw = read_model_bytes(model_dir)
        spec = FeatureSpec.load(model_dir / ModelDir.SPEC)
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        booster.set_param({"nthread": 1})  # one per Python worker: Spark already runs a worker per core
        return cls(booster, spec, ModelDir(model_dir).version_of(raw, spec))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.shape[1] != self.spec.n_features:
            raise ValueError(
                f"matrix has {matrix.shape[1]} columns, the model expects {self.spec.n_features}"
            )
        if len(matrix) == 0:
            return np.empty(0, dtype=np.float64)
        return self.booster.inplace_predict(matrix).astype(np.float64)

    def score(self, frame: pd.DataFrame) -> ScoredBatch:
        encoded = encode(frame, self.spec)
        return ScoredBatch(self.predict_matrix(encoded.matrix), encoded)


@functools.lru_cache(maxsize=4)
def cached_scorer(model_dir: str) -> Scorer:
    """One Scorer per process and model directory: Spark's Python workers are reused across tasks."""
    return Scorer.from_dir(model_dir)


@dataclass(frozen=True)
class ModelDir:
    """A model directory: model.tar.gz + dataset.json + feature_spec.json + metrics.json (plus baseline.json and
    evaluation.png from training)."""

    path: Path

    ARCHIVE = ARCHIVE_FILENAME
    SPEC = SPEC_FILENAME
    METRICS = METRICS_FILENAME
    BASELINE = BASELINE_FILENAME  # optional: a model trained before baselines has none (drift unavailable)
    # Optional for the same reason: a model trained before descriptions scores with the tutorial's.
    DESCRIPTION = DESCRIPTION_FILENAME
    # What scoring needs (the endpoint and the jobs): the archive and the input contract.
    SCORING_FILES = (ARCHIVE_FILENAME, SPEC_FILENAME)
    # What a deploy needs: those, and the version recorded in metrics.json.
    DEPLOY_FILES = (ARCHIVE_FILENAME, SPEC_FILENAME, METRICS_FILENAME)

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    @property
    def archive(self) -> Path:
        return self.path / self.ARCHIVE

    @property
    def spec_path(self) -> Path:
        return self.path / self.SPEC

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def baseline_path(self) -> Path:
        return self.path / self.BASELINE

    @property
    def description_path(self) -> Path:
        return self.path / self.DESCRIPTION

    def missing(self, names: tuple[str, ...] = DEPLOY_FILES) -> list[str]:
        return [name for name in names if not (self.path / name).is_file()]

    def require(self, names: tuple[str, ...] = DEPLOY_FILES) -> ModelDir:
        missing = self.missing(names)
        if missing:
            raise ModelDirError(
                f"model directory {self.path} lacks {', '.join(missing)}: "
                f"run `make train MODEL_DIR={self.path}` first"
            )
        return self

    # ---------------------------------------------------------------- write (training)
    def write(
        self,
        model_bytes: bytes,
        spec: FeatureSpec,
        metrics: dict,
        baseline: drift.Baseline | None = None,
        description: DatasetDescription | None = None,
    ) -> Path:
        """The archive, the description, the spec, the baseline and the metrics; returns the archive's path."""
        self.path.mkdir(parents=True, exist_ok=True)
        archive = write_archive(model_bytes, self.path)
        self.write_side_files(spec, metrics, baseline, description)
        return archive

    def write_side_files(
        self,
        spec: FeatureSpec,
        metrics: dict,
        baseline: drift.Baseline | None = None,
        description: DatasetDescription | None = None,
    ) -> None:
        """dataset.json + feature_spec.json + baseline.json + metrics.json (in a SageMaker job they go to
        SM_OUTPUT_DATA_DIR, not the archive)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if description is not None:
            description.save(self.description_path)
        spec.save(self.spec_path)
        if baseline is not None:
            self.baseline_path.write_text(baseline.file_text())
        self.write_metrics(metrics)

    def write_metrics(self, metrics: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")

    # ---------------------------------------------------------------- read
    def model_bytes(self) -> bytes:
        return read_model_bytes(self.path)

    def spec(self) -> FeatureSpec:
        return FeatureSpec.load(self.spec_path)

    def description_json(self) -> str | None:
        return self.description_path.read_text(encoding="utf-8") if self.description_path.is_file() else None

    def description(self) -> DatasetDescription:
        """The description of the data the model was trained on; for a model trained before descriptions, the
        tutorial's (said once per directory)."""
        return _description_of(str(self.path))

    def baseline_json(self) -> str | None:
        return self.baseline_path.read_text() if self.baseline_path.is_file() else None

    def baseline(self) -> drift.Baseline | None:
        """The training baseline, or None for a model trained before baselines (its drift is unavailable)."""
        text = self.baseline_json()
        return None if text is None else drift.Baseline.from_json(text)

    def metrics(self) -> dict:
        return json.loads(self.metrics_path.read_text())

    def recorded_version(self) -> str:
        """The version training recorded in metrics.json (what deploy keys the endpoint on)."""
        version = self.metrics().get("model_version")
        if not version:
            raise ModelDirError(f"{self.metrics_path} has no model_version")
        return str(version)

    def version(self) -> str:
        """The version computed from the artifacts themselves (what the jobs write beside each score)."""
        return self.version_of(self.model_bytes(), self.spec())

    def version_of(self, model_bytes: bytes, spec: FeatureSpec) -> str:
        return model_version(model_bytes, spec, self.baseline_json(), self.description_json())

    def scorer(self) -> Scorer:
        return Scorer.from_dir(self.path)

    # ---------------------------------------------------------------- fetch (jobs, endpoint)
    @classmethod
    def fetch(cls, uri: str, region: str | None = None) -> ModelDir:
        """A local directory as it is, or an s3:// prefix downloaded once per process (cached by uri)."""
        return cls(_fetched(uri, region))


_download_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _fetched(uri: str, region: str | None) -> str:
    if not uri.startswith("s3://"):
        ModelDir(uri).require((SPEC_FILENAME,))
        return uri
    import boto3

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    with _download_lock:
        target = Path(tempfile.mkdtemp(prefix="churn-model-"))
        s3 = boto3.client("s3", region_name=region)
        for name in ModelDir.SCORING_FILES:
            key = f"{prefix}/{name}" if prefix else name
            s3.download_file(bucket, key, str(target / name))
        for optional in (BASELINE_FILENAME, DESCRIPTION_FILENAME):
            _download_optional(s3, bucket, f"{prefix}/{optional}" if prefix else optional, target)
    log.info("downloaded %s to %s (pid %d)", uri, target, os.getpid())
    return str(target)


def _download_optional(s3, bucket: str, key: str, target: Path) -> None:
    """The baseline or the description, where the model has one: an older model's absence is expected and
    said once."""
    from botocore.exceptions import ClientError

    try:
        s3.download_file(bucket, key, str(target / Path(key).name))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        log.info("s3://%s/%s absent: a model from before it (see ModelDir)", bucket, key)


@functools.lru_cache(maxsize=8)
def _description_of(path: str) -> DatasetDescription:
    """One load (and one warning for an older model) per model directory and process."""
    model = ModelDir(path)
    if model.description_path.is_file():
        return DatasetDescription.load(model.description_path)
    log.warning(
        "model directory %s has no %s (trained before dataset descriptions): scoring with the tutorial's "
        "dataset description",
        path,
        DESCRIPTION_FILENAME,
    )
    return dataset.tutorial()
