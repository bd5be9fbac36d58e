"""terraform fmt, validate and the modules' own `terraform test` files, run by the real Terraform CLI offline."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import MODULE_DIRS, ROOT_DIRS, TERRAFORM, run_terraform

pytestmark = pytest.mark.slow(seconds=130)  # expected seconds: make test starts the longest units first


def test_every_file_is_formatted(tf_env):
    result = run_terraform(tf_env, TERRAFORM, "fmt", "-check", "-recursive", check=False)
    assert result.returncode == 0, f"not in canonical format (run `make tf-fmt`): {result.stdout.split()}"


def test_every_root_validates(tf_env, initialized_dirs):
    """`terraform validate` of the roots (each validates the modules it calls, as called). A module is validated
    on its own by `terraform test` (test_module_tests_pass), which validates the whole configuration before its
    runs (tried with Terraform 1.11 on a copy of modules/analytics: an argument the provider does not know, in a
    resource with count = 0, failed its `terraform test` with "Unsupported argument" before any run), so a
    separate `validate` per module, its own load of the provider's schema, adds nothing."""
    # Each run mostly waits on loading the provider schema: run them side by side.
    with ThreadPoolExecutor(max_workers=len(ROOT_DIRS)) as pool:
        outcomes = pool.map(lambda d: run_terraform(tf_env, d, "validate", "-json", check=False), ROOT_DIRS)
        results = dict(zip(ROOT_DIRS, outcomes, strict=True))
    invalid = {
        str(d.relative_to(TERRAFORM)): r.stdout for d, r in results.items() if '"valid": true' not in r.stdout
    }
    assert not invalid, invalid
    assert [d.name for d in results] == ["dev", "local", "prod"]
    assert set(initialized_dirs) == {*MODULE_DIRS, *ROOT_DIRS}


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_module_tests_pass(tf_env, initialized_dirs, module):
    test_files = sorted((module / "tests").glob("*.tftest.hcl"))
    assert test_files, f"{module} has no tests/*.tftest.hcl"
    result = run_terraform(tf_env, module, "test", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"Success! (\d+) passed, 0 failed", result.stdout)
    # Every file holds a plan-level assertion run and at least one variable-validation run.
    text = "\n".join(path.read_text() for path in test_files)
    assert passed and int(passed.group(1)) >= 2
    assert "mock_provider" in text and "expect_failures" in text and "assert {" in text


def test_roots_pin_the_provider_the_lock_file_records(initialized_dirs):
    for root in ROOT_DIRS:
        required = re.search(r'version\s*=\s*"([0-9.]+)"', (root / "main.tf").read_text()).group(1)
        lock = (root / ".terraform.lock.hcl").read_text()
        locked = re.search(
            r'provider "registry.terraform.io/hashicorp/aws" \{\s*version\s*=\s*"([0-9.]+)"', lock
        )
        assert locked and locked.group(1) == required, f"{root}: lock file and required version disagree"
    for module in MODULE_DIRS:
        assert re.search(r'version\s*=\s*">= [0-9.]+"', (module / "versions.tf").read_text()), module
