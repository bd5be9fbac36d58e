"""Dependency wheels resolved for the Glue worker, not the host; provider lock hashes for the running platform."""

from __future__ import annotations

import shutil
import tomllib

import packaging.markers
import pytest
from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename

from churn_tools.deploy import lockcheck, providers, wheels

from .conftest import REPO_ROOT

MAC_ARM64_HOST = {
    "implementation_name": "cpython", "implementation_version": "3.11.9", "os_name": "posix",
    "platform_machine": "arm64", "platform_release": "24.1.0", "platform_system": "Darwin",
    "platform_version": "Darwin Kernel Version 24.1.0", "python_full_version": "3.11.9",
    "platform_python_implementation": "CPython", "python_version": "3.11", "sys_platform": "darwin",
}  # fmt: skip


def linux_x86_64_only(wheel) -> bool:
    tags = parse_wheel_filename(wheel.name)[3]
    return all(
        t.platform == "any" or (t.platform.startswith("manylinux") and t.platform.endswith("_x86_64"))
        for t in tags
    )


def test_resolved_from_a_macos_arm64_host_the_set_is_the_linux_x86_64_one(tmp_path, monkeypatch):
    monkeypatch.setattr(packaging.markers, "default_environment", lambda: dict(MAC_ARM64_HOST))
    # The host now reads as a Mac: pyproject's markers, evaluated the host's way, would pick xgboost.
    host_picks = [r.name for r in map(Requirement, tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]) if r.marker is None or r.marker.evaluate()]  # fmt: skip
    assert "xgboost" in host_picks and "xgboost-cpu" not in host_picks

    found = wheels.resolve(REPO_ROOT, wheels.Target("3.11"), tmp_path)
    names = {str(parse_wheel_filename(w.name)[0]) for w in found}
    assert "xgboost-cpu" in names and "xgboost" not in names
    assert {"numpy", "pandas", "pyarrow", "boto3", "botocore", "scipy", "six"} <= names
    assert all(linux_x86_64_only(w) for w in found), [w.name for w in found]
    assert {w.name for w in tmp_path.glob("*.whl")} == {w.name for w in found}  # nothing but the set
    listing = (tmp_path / "requirements-glue-py311.txt").read_text().split()
    assert "xgboost-cpu==3.0.5" in listing and all(";" not in line for line in listing)


def test_the_glue_6_set_is_built_for_cpython_3_13(tmp_path):
    found = wheels.dependency_wheels(REPO_ROOT, wheels.Target("3.13"), tmp_path)
    compiled = [w.name for w in found if "-none-" not in w.name]
    assert compiled and all("-cp313-" in name for name in compiled), compiled
    assert wheels.dependency_wheels(REPO_ROOT, wheels.Target("3.13"), tmp_path) == found  # cached


def test_a_dependency_the_lock_does_not_pin_is_named_with_who_needs_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["python-dateutil==2.9.0.post0"]\n'
    )
    (tmp_path / "requirements.lock").write_text("python-dateutil==2.9.0.post0\n")
    with pytest.raises(
        wheels.WheelResolutionError,
        match=r"six.*needed by python-dateutil==2.9.0.post0.*not pinned in requirements.lock",
    ):
        wheels.resolve(tmp_path, wheels.Target("3.11"), tmp_path / "out")


def test_the_committed_locks_hold_this_machines_provider_hash():
    mirror = providers.discover().path
    for root in sorted((REPO_ROOT / "terraform" / "envs").iterdir()):
        assert lockcheck.check(root, mirror).startswith("h1:"), root


def test_a_platform_the_lock_lacks_stops_the_deploy_with_the_command_that_adds_it(tmp_path):
    version, _ = lockcheck.locked(REPO_ROOT / "terraform" / "envs" / "dev" / ".terraform.lock.hcl")
    package = tmp_path / "mirror" / providers.PROVIDER / version / "darwin_arm64"
    package.mkdir(parents=True)
    (package / f"terraform-provider-aws_v{version}_x5").write_bytes(b"a darwin_arm64 build")
    root = tmp_path / "dev"
    shutil.copytree(REPO_ROOT / "terraform" / "envs" / "dev", root)
    with pytest.raises(lockcheck.LockMissingPlatform) as raised:
        lockcheck.check(root, tmp_path / "mirror", "darwin_arm64")
    command = (
        f"terraform -chdir={root} providers lock -fs-mirror={tmp_path / 'mirror'} -platform=darwin_arm64"
    )
    assert str(raised.value).splitlines()[-1].strip() == command
    # Once the lock lists that hash (what the command writes), the check passes.
    digest = lockcheck.package_hash(package)
    lock = root / ".terraform.lock.hcl"
    lock.write_text(lock.read_text().replace("hashes = [\n", f'hashes = [\n    "{digest}",\n'))
    assert lockcheck.check(root, tmp_path / "mirror", "darwin_arm64") == digest


def test_the_running_platform_is_named_as_terraform_names_it(monkeypatch):
    monkeypatch.setattr(lockcheck.sys, "platform", "darwin")
    monkeypatch.setattr(lockcheck.platform, "machine", lambda: "arm64")
    assert lockcheck.running_platform() == "darwin_arm64"
    monkeypatch.setattr(lockcheck.sys, "platform", "linux")
    monkeypatch.setattr(lockcheck.platform, "machine", lambda: "x86_64")
    assert lockcheck.running_platform() == "linux_amd64"
