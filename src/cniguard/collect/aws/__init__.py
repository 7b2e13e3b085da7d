"""Live AWS collection with boto3: scope (accounts, regions), EKS, EC2, IAM and CloudTrail readers.

Each reader module declares the API operations it may call in ``OPERATIONS``; `cniguard
permissions` is generated from those declarations.
"""
