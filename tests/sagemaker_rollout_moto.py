"""moto server with SageMaker's UpdateEndpoint, which moto 5.2.5 lacks (it answers 500), so a model rollout can be
applied locally; the rollout either succeeds or is rolled back, as the test says.

    python tests/sagemaker_rollout_moto.py -H 127.0.0.1 -p 5000    # the arguments of `python -m moto.server`

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
