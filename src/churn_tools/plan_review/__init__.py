"""Review a Terraform plan for a pull request: what changes, what is risky, what policies say, what it costs.

Reads the JSON of `terraform show -json <planfile>` and renders one Markdown summary (see docs/plan-review.md).
"""
