"""Write each Terraform module README's Inputs and Outputs tables from its variables.tf and outputs.tf.

The tables go between terraform-docs' own markers (`<!-- BEGIN_TF_DOCS -->` / `<!-- END_TF_DOCS -->`) in
terraform-docs' markdown table format, as `terraform-docs markdown table --output-mode inject
--output-file README.md --show inputs,outputs <module>` writes them (inputs and outputs sorted by name, types
as written in the source, defaults as JSON). That binary is not used: it comes as GitHub release downloads
(or Go source, Homebrew, container images), and neither PyPI, npm nor Debian ships it, while `make lint` must
work on a clone with Python, Java and Terraform alone. Everything outside the markers is left as written.

    python scripts/terraform_docs.py [--check] [MODULE_DIR ...]   (default: every terraform/modules/*)

Without --check, rewrites the READMEs that are out of date; either way exits 1 when one was (the pre-commit
hook then fails, and the rewritten file is the fix to commit).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

import hcl2

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REPO_ROOT = Path(__file__).resolve().parent.parent
MODULES_DIR = REPO_ROOT / "terraform" / "modules"
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


def _blocks(path: Path, kind: str) -> list[tuple[str, dict]]:
    """(name, attributes) of every `kind` block of a .tf file, in file order; none if the file is absent."""
    if not path.exists():
        return []
    with path.open() as handle:
        parsed = hcl2.load(handle, with_meta=True)
    return [(name, body) for block in parsed.get(kind, []) for name, body in block.items()]


def _expression_end(text: str) -> int:
    """Index just past the HCL expression `text` starts with: where its brackets close, or its first line ends.
    Quoted strings and comments do not count their brackets."""
    depth: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == "#" or text.startswith("//", i):
            newline = text.find("\n", i)
            if not depth:
                return i
            i = len(text) if newline < 0 else newline
            continue
        elif char in _BRACKETS:
            depth.append(_BRACKETS[char])
        elif depth and char == depth[-1]:
            depth.pop()
            if not depth:
                return i + 1
        elif char == "\n" and not depth:
            return i
        i += 1
    return len(text)


def type_source(lines: list[str], body: dict) -> str | None:
    """The `type` of a variable block exactly as written (lines kept, trailing comment dropped), or None."""
    block = lines[body["__start_line__"] - 1 : body["__end_line__"]]
    attributes = [line for line in block[1:] if line.strip()]
    indent = len(attributes[0]) - len(attributes[0].lstrip()) if attributes else 0
    for number, line in enumerate(block):
        head, _, rest = line.partition("=")
        if head.strip() == "type" and len(line) - len(line.lstrip()) == indent:
            text = rest.lstrip() + "".join("\n" + following for following in block[number + 1 :])
            return text[: _expression_end(text)].rstrip()
    return None


def _cell(text: str) -> str:
    """A table cell: `|` escaped, lines joined with <br/> as terraform-docs does."""
    return text.strip().replace("|", "\\|").replace("\n", "<br/>")


def _code(text: str) -> str:
    """Inline code for a one-line value, a <pre> block for a longer one (terraform-docs' rendering)."""
    return f"<pre>{_cell(text)}</pre>" if "\n" in text else f"`{_cell(text)}`"


def _default(value: object) -> str:
    if isinstance(value, dict | list) and value:
        return _code(json.dumps(value, indent=2))
    return _code(json.dumps(value))


def _name(kind: str, name: str) -> str:
    escaped = name.replace("_", "\\_")
    return f'<a name="{kind}_{name}"></a> [{escaped}](#{kind}\\_{escaped})'


def render(module_dir: Path) -> str:
    """The text terraform-docs puts between the markers for this module: Inputs, then Outputs."""
    variables = module_dir / "variables.tf"
    lines = variables.read_text().splitlines() if variables.exists() else []
    parts = ["## Inputs", ""]
    inputs = sorted(_blocks(variables, "variable"))
    if inputs:
        parts += [
            "| Name | Description | Type | Default | Required |",
            "|------|-------------|------|---------|:--------:|",
        ]
    else:
        parts.append("No inputs.")
    for name, body in inputs:
        typ = type_source(lines, body)
        required = "default" not in body
        parts.append(
            f"| {_name('input', name)} | {_cell(body.get('description', 'n/a'))} | {_code(typ) if typ else 'n/a'} | "
            f"{'n/a' if required else _default(body['default'])} | {'yes' if required else 'no'} |"
        )
    parts += ["", "## Outputs", ""]
    outputs = sorted(_blocks(module_dir / "outputs.tf", "output"))
    if outputs:
        parts += ["| Name | Description |", "|------|-------------|"]
    else:
        parts.append("No outputs.")
    parts += [
        f"| {_name('output', name)} | {_cell(body.get('description', 'n/a'))} |" for name, body in outputs
    ]
    return "\n".join(parts)


def inject(readme: str, content: str) -> str:
    """The README with `content` between the markers; the markers are appended when the README has none."""
    begin, end = readme.find(BEGIN), readme.find(END)
    if begin < 0 and end < 0:
        return readme.rstrip("\n") + f"\n\n{BEGIN}\n{content}\n{END}\n"
    if begin < 0 or end < begin:
        raise ValueError(f"{BEGIN} and {END} must both be present, in that order")
    return readme[:begin] + f"{BEGIN}\n{content}\n{END}" + readme[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report out-of-date READMEs, write nothing")
    parser.add_argument(
        "modules", nargs="*", type=Path, help="module directories (default: terraform/modules/*)"
    )
    args = parser.parse_args(argv)
    modules = args.modules or sorted(path.parent for path in MODULES_DIR.glob("*/variables.tf"))
    stale = 0
    for module_dir in modules:
        readme_path = module_dir / "README.md"
        current = readme_path.read_text() if readme_path.exists() else f"# {module_dir.name}\n"
        try:
            wanted = inject(current, render(module_dir))
        except ValueError as error:
            print(f"{readme_path}: {error}", file=sys.stderr)
            return 2
        if wanted == current:
            continue
        stale += 1
        if args.check:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                str(readme_path),
                "generated",
            )
            sys.stdout.writelines(diff)
        else:
            readme_path.write_text(wanted)
            print(f"rewrote {readme_path} (Inputs/Outputs from variables.tf and outputs.tf)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
