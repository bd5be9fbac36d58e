"""`python -m churn_tools.bench`: the whole benchmark (see churn_tools.bench.suite)."""

import sys

from churn_tools.bench.suite import main

sys.exit(main())
