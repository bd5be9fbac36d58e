"""The workstation tools of the churn bundle: local stand-ins, deploy, plan review, demo, bench.

Never shipped to Glue: the job wheel holds `churn_pipeline` alone. Tools import the runtime, never the reverse.
"""
