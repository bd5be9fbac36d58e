"""What every other room of the package agrees on, and what Terraform reads (through `export.py`).

Data flows one way: the contract imports nothing else of the package; everything else imports it.
- `dataset`: the dataset description, the one place a column of the user's data is named (the tutorial's
  is package data);
- `features`: the feature spec derived from a description and the one `encode`;
- `codes`: every reject, dead-letter and failure code;
- `outputs`: the schema of every dataset the jobs write (Terraform's catalog tables come from it);
- `settings`: the settings both Terraform and the jobs name (scoring modes, output formats, window,
  starting position, threshold) with their defaults and the one check of each;
- `export`: the JSON Terraform reads (`make contract` writes terraform/contract.json).
"""
