"""`python -m churn_pipeline.bench`: the whole benchmark (see churn_pipeline.bench.suite)."""

import sys

from churn_pipeline.bench.suite import main

sys.exit(main())
