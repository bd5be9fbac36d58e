"""Deployment: Terraform provider discovery, packaging to the artifacts bucket, and the terraform wrapper.

Each module is a CLI behind a make target (mk/infra.mk): `providers` (make tf-providers), `package`,
`terraform` (make plan / deploy / destroy).
"""
