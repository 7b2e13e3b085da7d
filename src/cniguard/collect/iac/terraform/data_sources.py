"""Data sources resolved without AWS: the partition, caller identity and region placeholders,
policy documents, the service principal of the commercial partition, and look-ups by name that
meet the placeholders of the resources they name.
"""

from __future__ import annotations

from cniguard.collect.iac.synthetic import ACCOUNT, PARTITION, REGION
from cniguard.collect.iac.terraform.computed import (
    oidc_issuer,
    oidc_provider_arn,
    policy_arn,
    policy_document,
    role_arn,
)
from cniguard.collect.iac.terraform.values import Value


def data_source(data_type: str, values: dict[str, Value]) -> dict[str, Value]:
    """Data sources resolved without AWS: partition, identity, region and derived look-ups."""
    if data_type == "aws_partition":
        return {
            **values,
            "partition": PARTITION,
            "id": PARTITION,
            "dns_suffix": "amazonaws.com",
            "reverse_dns_prefix": "com.amazonaws",
        }
    if data_type == "aws_caller_identity":
        return {**values, "account_id": ACCOUNT, "id": ACCOUNT}
    if data_type == "aws_region":
        return {**values, "name": REGION, "id": REGION, "region": REGION}
    service = values.get("service_name")
    if data_type == "aws_service_principal" and isinstance(service, str):
        # the commercial partition's principal; AWS varies the suffix only in China and ISO
        return {**values, "name": f"{service}.amazonaws.com", "suffix": "amazonaws.com"}
    if data_type == "aws_iam_policy_document":
        document = policy_document(values)
        return {**values, "json": document, "minified_json": document}
    name = values.get("name")
    if data_type == "aws_eks_cluster" and isinstance(name, str):
        return {
            **values,
            "id": name,
            "identity": [{"oidc": [{"issuer": oidc_issuer(name)}]}],
            "arn": f"arn:{PARTITION}:eks:{REGION}:{ACCOUNT}:cluster/{name}",
        }
    if data_type == "aws_iam_role" and isinstance(name, str):
        return {**values, "arn": role_arn(name), "id": name}
    if data_type == "aws_iam_policy" and isinstance(name, str) and "arn" not in values:
        return {**values, "arn": policy_arn(name)}
    url = values.get("url")
    if data_type == "aws_iam_openid_connect_provider" and isinstance(url, str):
        return {**values, "arn": oidc_provider_arn(url)}
    return values
