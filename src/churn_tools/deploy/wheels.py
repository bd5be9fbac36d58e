"""The dependency wheels of a Glue job, resolved for the Glue worker (Linux x86_64, the job's CPython), not the host.

pip evaluates environment markers against the machine it runs on, even with `--platform`/`--python-version`:
resolving `xgboost-cpu==3.0.5; sys_platform == 'linux'` from a Mac fetches `xgboost` instead, and the job
wheel's requirement then cannot be met under Glue's `--no-index`. So the markers are evaluated here, with
`packaging.markers` in a target environment, never the host's:

1. the roots are pyproject's runtime dependencies whose markers hold on the target;
2. each is pinned by requirements.lock and downloaded alone (`pip download --no-deps --only-binary=:all:
   --platform ... --python-version ... --implementation cp`): no marker reaches pip;
3. the Requires-Dist of each downloaded wheel (the target's own metadata) is evaluated in the same target
   environment, and what it names is pinned by the lock and downloaded the same way, until nothing is new.

The per-target requirement list (`requirements-glue-py<ver>.txt`, name==version, no markers) is written
beside the wheels. A dependency the lock does not pin is an error naming who needs it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename


class WheelResolutionError(RuntimeError):
    pass


# The wheel platforms a Glue 5.x / 6.0 worker (Amazon Linux 2023, glibc 2.34, x86_64) installs.
GLUE_WHEEL_PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)


@dataclass(frozen=True)
class Target:
    """Where the wheels are installed: a Glue worker's CPython on Linux x86_64."""

    python_version: str  # "3.11"
    platforms: tuple[str, ...] = GLUE_WHEEL_PLATFORMS

    def environment(self) -> dict[str, str]:
        """Every PEP 508 marker variable, as on the target (so nothing of the host's is merged in)."""
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.python_version}.0",
            "os_name": "posix",
            "platform_machine": "x86_64",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{self.python_version}.0",
            "platform_python_implementation": "CPython",
            "python_version": self.python_version,
            "sys_platform": "linux",
        }

    @property
    def tag(self) -> str:
        return "py" + self.python_version.replace(".", "")

    def accepts(self, wheel: Path) -> bool:
        """Whether pip on the target could install this wheel file (its tags name the target)."""
        _name, _version, _build, tags = parse_wheel_filename(wheel.name)
        interpreter = "cp" + self.python_version.replace(".", "")
        for tag in tags:
            python_ok = tag.interpreter in (interpreter, "py3", f"py{self.python_version[0]}") or (
                tag.abi == "abi3" and tag.interpreter.startswith("cp3")
            )
            if python_ok and (tag.platform == "any" or tag.platform in self.platforms):
                return True
        return False


def marker_holds(requirement: Requirement, target: Target, extras: frozenset[str] = frozenset()) -> bool:
    if requirement.marker is None:
        return True
    environment = target.environment()
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for number, line in enumerate(lock.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise WheelResolutionError(f"{lock}:{number}: {line!r} is not a name==version pin")
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def root_requirements(pyproject: Path, target: Target) -> list[Requirement]:
    """pyproject's runtime dependencies whose markers hold on the target."""
    with open(pyproject, "rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    return [r for r in map(Requirement, declared) if marker_holds(r, target)]


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """Requires-Dist of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    return [Requirement(value) for value in metadata.get_all("Requires-Dist") or []]


def _download(pins: list[str], target: Target, dest: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), "--python-version", target.python_version, "--implementation", "cp",
        *[arg for platform in target.platforms for arg in ("--platform", platform)],
        *pins,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise WheelResolutionError(
            f"pip download for CPython {target.python_version} on {target.platforms[0]} failed "
            f"({' '.join(pins)}):\n{result.stderr}"
        )


def _wheel_of(dest: Path, name: str, version: str) -> Path:
    for wheel in dest.glob("*.whl"):
        wheel_name, wheel_version, _build, _tags = parse_wheel_filename(wheel.name)
        if canonicalize_name(wheel_name) == name and str(wheel_version) == version:
            return wheel
    raise WheelResolutionError(f"pip reported success but left no wheel of {name}=={version} in {dest}")


def resolve(repo_root: Path, target: Target, dest: Path) -> list[Path]:
    """Download the target's dependency wheels into dest; returns them (one per pinned package)."""
    pins = lock_pins(repo_root / "requirements.lock")
    wanted: dict[str, tuple[frozenset[str], str]] = {}  # name -> (extras, who needs it)
    pending = [(r, "pyproject.toml") for r in root_requirements(repo_root / "pyproject.toml", target)]
    wheels: dict[str, Path] = {}
    while pending:
        expand: list[str] = []  # packages new, or asked for with new extras: their dependencies follow
        for requirement, needed_by in pending:
            name = canonicalize_name(requirement.name)
            extras = frozenset(requirement.extras)
            if name in wanted and extras <= wanted[name][0]:
                continue
            if name not in pins:
                raise WheelResolutionError(
                    f"{requirement} (needed by {needed_by} on CPython {target.python_version}, Linux x86_64) "
                    "is not pinned in requirements.lock: add it there"
                )
            if not requirement.specifier.contains(pins[name], prereleases=True):
                raise WheelResolutionError(
                    f"requirements.lock pins {name}=={pins[name]}, but {needed_by} needs {requirement}"
                )
            wanted[name] = (extras | wanted.get(name, (frozenset(), ""))[0], needed_by)
            expand.append(name)
        missing = [name for name in dict.fromkeys(expand) if name not in wheels]
        if missing:
            _download([f"{name}=={pins[name]}" for name in missing], target, dest)
            for name in missing:
                wheels[name] = _wheel_of(dest, name, pins[name])
        pending = [
            (dependency, f"{name}=={pins[name]}")
            for name in dict.fromkeys(expand)
            for dependency in wheel_requirements(wheels[name])
            if marker_holds(dependency, target, wanted[name][0])
        ]
    unfit = [w.name for w in wheels.values() if not target.accepts(w)]
    if unfit:
        raise WheelResolutionError(
            f"wheels that CPython {target.python_version} on Linux x86_64 cannot install: {unfit}"
        )
    listing = dest / f"requirements-glue-{target.tag}.txt"
    listing.write_text("".join(f"{name}=={pins[name]}\n" for name in sorted(wheels)))
    return sorted(wheels.values())


def cache_key(repo_root: Path, target: Target) -> str:
    """Changes with the lock, pyproject's runtime dependencies, the Python and the platforms."""
    with open(repo_root / "pyproject.toml", "rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    text = "\n".join(
        [target.python_version, *target.platforms, *declared, (repo_root / "requirements.lock").read_text()]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dependency_wheels(repo_root: Path, target: Target, cache_dir: Path) -> list[Path]:
    """`resolve` once per cache key under cache_dir/dependency-wheels; later calls reuse the files."""
    out = cache_dir / "dependency-wheels" / f"{target.tag}-{cache_key(repo_root, target)}"
    listing = out / f"requirements-glue-{target.tag}.txt"
    if not listing.exists():
        staging = out.with_name(out.name + ".partial")
        staging.mkdir(parents=True, exist_ok=True)
        resolve(repo_root, target, staging)
        if out.exists():  # another process finished first: its files are the same pins
            return _listed(out)
        staging.rename(out)
    return _listed(out)


def _listed(out: Path) -> list[Path]:
    names = {line.split("==")[0] for line in (next(out.glob("requirements-glue-*.txt"))).read_text().split()}
    return sorted(w for w in out.glob("*.whl") if canonicalize_name(parse_wheel_filename(w.name)[0]) in names)
