"""What every other room of the package agrees on, and what Terraform reads (through `export.py`).

Data flows one way: the contract imports nothing of the package but `schema`; everything else imports it.
- `codes`: every reject, dead-letter and failure code;
- `outputs`: the schema of every dataset the jobs write (Terraform's catalog tables come from it);
- `settings`: the settings both Terraform and the jobs name (scoring modes, output formats, window,
  starting position, threshold) with their defaults and the one check of each;
- `export`: the JSON Terraform reads (`make contract` writes terraform/contract.json).
"""
