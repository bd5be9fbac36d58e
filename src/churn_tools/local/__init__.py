"""The local stand-ins for AWS: moto server (the AWS API), the model server (the SageMaker runtime contract),
the Kinesis producer, and the one way this package starts and stops a process (`services`)."""
