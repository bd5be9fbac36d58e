"""moto server with the two update calls a model rollout makes that moto 5.2.5 lacks (it answers 500 and the
provider retries until it times out): SageMaker's UpdateEndpoint and Glue's UpdateJob (the jobs' model_uri moves
to the new model's prefix), so a model rollout can be applied locally; the rollout either succeeds or is rolled
back, as the test says.

    python tests/rollout_moto.py -H 127.0.0.1 -p 5000    # the arguments of `python -m moto.server`

What UpdateEndpoint does here, as SageMaker documents it
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html):
- the new configuration must exist (ValidationException "Could not find endpoint configuration" otherwise);
- "succeed": the endpoint serves the new configuration; unless RetainAllVariantProperties is true, each
  variant's instance count is reset to the new configuration's InitialInstanceCount (what an autoscaled endpoint
  suffers on every rollout the Terraform provider makes: it never sends RetainAllVariantProperties);
- "rollback": what a deployment-guardrail rollback leaves behind: the endpoint InService on the configuration it
  had, the new one unused (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
  The baking and the alarms themselves cannot run here.
The outcome is read from the file $ROLLOUT_OUTCOME_FILE at each call ("succeed" when absent).
UpdateJob overwrites the job definition with JobUpdate, as Glue documents: "The previous job definition is
completely overwritten by this information" (https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateJob.html).
Everything else is churn_tools.local.moto_server.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTCOMES = ("succeed", "rollback")


def outcome() -> str:
    path = os.environ.get("ROLLOUT_OUTCOME_FILE")
    found = Path(path).read_text().strip() if path and Path(path).exists() else "succeed"
    if found not in OUTCOMES:
        raise ValueError(f"$ROLLOUT_OUTCOME_FILE says {found!r}; it must say one of {OUTCOMES}")
    return found


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    def update_endpoint(self) -> ActionResult:
        backend = self.sagemaker_backend
        name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise ValidationError(message=f'Could not find endpoint "{name}".')
        config = backend.endpoint_configs.get(config_name)
        if config is None:
            raise ValidationError(message=f'Could not find endpoint configuration "{config_name}".')
        if outcome() == "succeed":
            endpoint.endpoint_config_name = config_name
            if not self._get_param("RetainAllVariantProperties"):
                endpoint.production_variants = endpoint._process_production_variants(
                    config.production_variants
                )
        return ActionResult({"EndpointArn": endpoint.arn})

    SageMakerResponse.update_endpoint = update_endpoint
    install_glue_update_job()


# JobUpdate's members and moto's FakeJob attribute for each; absent ones are reset (the definition is replaced).
JOB_UPDATE_FIELDS = {
    "Description": "description", "LogUri": "log_uri", "Role": "role",
    "ExecutionProperty": "execution_property", "Command": "command", "DefaultArguments": "default_arguments",
    "NonOverridableArguments": "non_overridable_arguments", "Connections": "connections",
    "MaxRetries": "max_retries", "AllocatedCapacity": "allocated_capacity", "Timeout": "timeout",
    "MaxCapacity": "max_capacity", "WorkerType": "worker_type", "NumberOfWorkers": "number_of_workers",
    "SecurityConfiguration": "security_configuration", "NotificationProperty": "notification_property",
    "GlueVersion": "glue_version", "CodeGenConfigurationNodes": "code_gen_configuration_nodes",
    "ExecutionClass": "execution_class", "SourceControlDetails": "source_control_details",
    # Kept but not returned by GetJob, as moto's CreateJob does with them.
    "JobMode": "job_mode", "JobRunQueuingEnabled": "job_run_queuing_enabled", "MaintenanceWindow": "maintenance_window",
}  # fmt: skip


def install_glue_update_job() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.glue.exceptions import InvalidInputException
    from moto.glue.responses import GlueResponse

    def update_job(self) -> ActionResult:
        job = self.glue_backend.get_job(self._get_param("JobName"))  # JobNotFoundException when absent
        update = self._get_param("JobUpdate") or {}
        unknown = set(update) - set(JOB_UPDATE_FIELDS)
        if unknown:
            # A client error (400), not retried: the stand-in must learn the member rather than drop it.
            message = f"JobUpdate members tests/rollout_moto.py does not keep: {sorted(unknown)}"
            raise InvalidInputException("UpdateJob", message)
        for member, attribute in JOB_UPDATE_FIELDS.items():
            setattr(job, attribute, update.get(member))
        # FakeJob's own defaults for what CreateJob leaves out.
        job.execution_property = job.execution_property or {}
        job.default_arguments = job.default_arguments or {}
        job.execution_class = job.execution_class or "STANDARD"
        job.last_modified_on = utcnow()
        return ActionResult({"JobName": job.name})

    GlueResponse.update_job = update_job


def main() -> None:
    from churn_tools.local.moto_server import main as moto_main

    install()
    moto_main()


if __name__ == "__main__":
    main()


def start(port: int, log_path: Path, outcome_file: Path):
    """This server on loopback:port; the outcome of each UpdateEndpoint is what outcome_file says then."""
    import sys

    from churn_tools.local import services as local_services

    return local_services.start_background(
        [sys.executable, str(Path(__file__).resolve()), "-H", local_services.LOOPBACK, "-p", str(port)],
        log_path,
        env={**os.environ, **local_services.LOCAL_AWS_ENV, "ROLLOUT_OUTCOME_FILE": str(outcome_file)},
        ready_url=f"http://{local_services.LOOPBACK}:{port}/moto-api/",
    )
