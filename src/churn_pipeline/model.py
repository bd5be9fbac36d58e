"""The model artifact: the SageMaker-compatible archive, its version, and a scorer that applies it.

`model.tar.gz` holds exactly one file, `xgboost-model`, because the built-in XGBoost container loads
every file of the archive as a member of an ensemble.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_pipeline.features import SPEC_FILENAME, EncodedBatch, FeatureSpec, encode

MODEL_FILENAME = "xgboost-model"
ARCHIVE_FILENAME = "model.tar.gz"


def model_version(model_bytes: bytes, spec: FeatureSpec) -> str:
    """Content hash of model + spec: equal artifacts give equal versions, on any machine."""
    digest = hashlib.sha256()
    digest.update(model_bytes)
    digest.update(spec.to_json().encode())
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
        spec = FeatureSpec.load(model_dir / SPEC_FILENAME)
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        booster.set_param({"nthread": 1})  # one per Python worker: Spark already runs a worker per core
        return cls(booster, spec, model_version(raw, spec))

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
