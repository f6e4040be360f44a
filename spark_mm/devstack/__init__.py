"""A local multi-service lakehouse for trying and testing the cluster deployment on one machine.

``python -m spark_mm.devstack up`` (or ``scripts/dev_stack.sh up``) starts real servers on
127.0.0.1: an S3-compatible object store (moto's server) and Iceberg's own REST catalog server
backed by it. The tests start the same stack through :mod:`spark_mm.devstack.stack`.
"""
