"""`churn-demo` (make demo): the whole pipeline end to end on this machine, no AWS account."""
