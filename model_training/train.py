"""Training entrypoint: `make train` locally, and the script of a SageMaker script-mode training job."""

import sys

from churn_pipeline.training.train import main

if __name__ == "__main__":
    sys.exit(main())
