"""Does a root's .terraform.lock.hcl hold the provider hash of the platform this machine runs Terraform on?

The lock files list `h1:` hashes, one per platform package they were made for, and `terraform init` refuses a
provider whose package hash is not listed ("doesn't match any of the checksums"). The ones committed here were
made from the linux_amd64 filesystem mirror of these machines (the registry, which would give every platform's
hashes, is out of reach). So before init, the deploy computes the h1 hash of the provider package it is about to
install (Terraform's "h1" = dirhash Hash1: SHA-256 over the sorted "<sha256>  <file>" lines of the unpacked
package) and, when the lock lacks it, stops with the one command that adds it.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import re
import sys
from pathlib import Path

from churn_tools.deploy.providers import PROVIDER

# The platforms the lock files should cover (terraform/README.md); `terraform providers lock` adds them.
LOCK_PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class LockMissingPlatform(RuntimeError):
    pass


def running_platform() -> str:
    """Terraform's name of this machine's platform: linux_amd64, darwin_arm64, ..."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    return f"{system}_{_MACHINES.get(machine, machine)}"


def package_hash(package_dir: Path) -> str:
    """The h1 hash of an unpacked provider package directory, as Terraform computes it."""
    files = sorted((p.relative_to(package_dir).as_posix(), p) for p in package_dir.rglob("*") if p.is_file())
    if not files:
        raise LockMissingPlatform(f"{package_dir} holds no file: not a provider package")
    summary = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {name}\n" for name, p in files)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def locked(lock_file: Path, provider: str = PROVIDER) -> tuple[str | None, set[str]]:
    """(version, hashes) of a provider in a lock file; (None, set()) when the lock does not name it."""
    if not lock_file.is_file():
        return None, set()
    match = re.search(rf'provider "{re.escape(provider)}" {{(.*?)\n}}', lock_file.read_text(), re.S)
    if not match:
        return None, set()
    body = match.group(1)
    version = re.search(r'version\s*=\s*"([^"]+)"', body)
    hashes = re.search(r"hashes\s*=\s*\[(.*?)\]", body, re.S)
    return (version.group(1) if version else None), set(
        re.findall(r'"([^"]+)"', hashes.group(1) if hashes else "")
    )


def check(root: Path, mirror: Path, platform_name: str | None = None) -> str:
    """The running platform's h1 hash, if the lock of `root` lists it; else LockMissingPlatform with the fix."""
    platform_name = platform_name or running_platform()
    lock_file = root / ".terraform.lock.hcl"
    version, hashes = locked(lock_file)
    if version is None:
        raise LockMissingPlatform(
            f"{lock_file} does not lock {PROVIDER}: run terraform init there and commit it"
        )
    package = mirror / PROVIDER / version / platform_name
    if not package.is_dir():
        raise LockMissingPlatform(
            f"the provider mirror {mirror} has no {PROVIDER} {version} for {platform_name} (this machine's "
            f"platform); put it at {package}"
        )
    digest = package_hash(package)
    if digest not in hashes:
        raise LockMissingPlatform(
            f"{lock_file} has no hash of {PROVIDER} {version} for {platform_name} (this machine), so terraform "
            "init would refuse the provider. Add it, then commit the lock file:\n"
            f"  terraform -chdir={root} providers lock -fs-mirror={mirror} -platform={platform_name}"
        )
    return digest
