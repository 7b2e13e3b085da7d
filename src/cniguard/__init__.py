"""cniguard: keeps the VPC CNI permissions of Amazon EKS clusters working and least-privilege."""

__version__ = "0.1.0"
