"""scripts/terraform_docs.py writes a module README's Inputs/Outputs in terraform-docs' format, between its markers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("terraform_docs", REPO_ROOT / "scripts" / "terraform_docs.py")
terraform_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(terraform_docs)

VARIABLES = """\
variable "zone" {
  description = "Where | it runs."
  type        = string # a trailing comment is not part of the type
  default     = "eu-west-1"
}

variable "settings" {
  description = <<-EOT
    Two lines
    of description.
  EOT
  type = object({
    # a comment inside the type stays, as terraform-docs keeps the source
    size = optional(number, 2)
    name = string
  })
  default = {
    name = "a"
    size = 3
  }

  validation {
    condition     = var.settings.size > 0
    error_message = "size must be positive."
  }
}

variable "name_prefix" {
  description = "Prefix of every name."
  type        = string
}

variable "flag" {
  type    = bool
  default = null
}
"""

OUTPUTS = """\
output "stream_arn" {
  description = "ARN of the stream."
  value       = "arn"
}
"""

EXPECTED = """\
## Inputs

| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| <a name="input_flag"></a> [flag](#input\\_flag) | n/a | `bool` | `null` | no |
| <a name="input_name_prefix"></a> [name\\_prefix](#input\\_name\\_prefix) | Prefix of every name. | `string` | n/a | yes |
| <a name="input_settings"></a> [settings](#input\\_settings) | Two lines<br/>of description. | \
<pre>object({<br/>    # a comment inside the type stays, as terraform-docs keeps the source<br/>    size = optional(number, 2)<br/>\
    name = string<br/>  })</pre> | <pre>{<br/>  "name": "a",<br/>  "size": 3<br/>}</pre> | no |
| <a name="input_zone"></a> [zone](#input\\_zone) | Where \\| it runs. | `string` | `"eu-west-1"` | no |

## Outputs

| Name | Description |
|------|-------------|
| <a name="output_stream_arn"></a> [stream\\_arn](#output\\_stream\\_arn) | ARN of the stream. |"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "variables.tf").write_text(VARIABLES)
    (tmp_path / "outputs.tf").write_text(OUTPUTS)
    (tmp_path / "README.md").write_text(
        "# mod\n\nWhat it makes.\n\n<!-- BEGIN_TF_DOCS -->\nold\n<!-- END_TF_DOCS -->\n\nAfter.\n"
    )
    return tmp_path


def test_render_is_terraform_docs_markdown_table(module):
    assert terraform_docs.render(module) == EXPECTED


def test_a_module_without_variables_or_outputs_says_so(tmp_path):
    assert terraform_docs.render(tmp_path) == "## Inputs\n\nNo inputs.\n\n## Outputs\n\nNo outputs."


def test_writes_between_the_markers_only_and_then_is_up_to_date(module, capsys):
    assert terraform_docs.main([str(module)]) == 1
    readme = (module / "README.md").read_text()
    assert (
        readme
        == f"# mod\n\nWhat it makes.\n\n<!-- BEGIN_TF_DOCS -->\n{EXPECTED}\n<!-- END_TF_DOCS -->\n\nAfter.\n"
    )
    assert terraform_docs.main([str(module)]) == 0
    assert terraform_docs.main(["--check", str(module)]) == 0


def test_check_shows_the_difference_and_writes_nothing(module, capsys):
    before = (module / "README.md").read_text()
    assert terraform_docs.main(["--check", str(module)]) == 1
    assert (module / "README.md").read_text() == before
    assert "-old\n" in capsys.readouterr().out


def test_a_readme_without_markers_gets_them_appended():
    assert (
        terraform_docs.inject("# mod\n", "x") == "# mod\n\n<!-- BEGIN_TF_DOCS -->\nx\n<!-- END_TF_DOCS -->\n"
    )


def test_one_marker_alone_is_refused(module, capsys):
    (module / "README.md").write_text("# mod\n<!-- END_TF_DOCS -->\n")
    assert terraform_docs.main([str(module)]) == 2
    assert "must both be present" in capsys.readouterr().err


def test_every_module_readme_is_up_to_date():
    modules = sorted(path.parent for path in (REPO_ROOT / "terraform" / "modules").glob("*/variables.tf"))
    assert modules, "no Terraform modules found"
    assert terraform_docs.main(["--check", *map(str, modules)]) == 0, "run: python scripts/terraform_docs.py"
