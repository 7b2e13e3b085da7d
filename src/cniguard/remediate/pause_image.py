"""The EKS pause image of a region: verify's test pods pull it from the EKS registry the cluster's
nodes already pull add-on images from (node role + AmazonEC2ContainerRegistryReadOnly), never from
Docker Hub, so a private cluster without internet access can run them.
"""

from __future__ import annotations

# The registry account of each region, from the EKS user guide's "View Amazon container image
# registries for Amazon EKS add-ons" table (awsdocs/amazon-eks-user-guide,
# latest/ug/workloads/add-ons-images.adoc at commit 1cc6ebb4a163f7f42689fdb6860cc4e93a03d24e),
# plus ap-southeast-5 from the rendered page (docs.amazonaws.cn .../add-ons-images.md).
# That table names ap-east-2's registry host "...ap-east-1..."; the host here is always built from
# the cluster's own region.
DEFAULT_ACCOUNT = "602401143452"  # every commercial region not listed below
REGISTRY_ACCOUNTS = {
    "af-south-1": "877085696533",
    "ap-east-1": "800184023465",
    "ap-east-2": "533267051163",
    "ap-south-2": "900889452093",
    "ap-southeast-3": "296578399912",
    "ap-southeast-4": "491585149902",
    "ap-southeast-5": "151610086707",
    "ap-southeast-6": "333609536671",
    "ap-southeast-7": "121268973566",
    "ca-west-1": "761377655185",
    "cn-north-1": "918309763551",
    "cn-northwest-1": "961992271922",
    "eu-central-2": "900612956339",
    "eu-south-1": "590381155156",
    "eu-south-2": "455263428931",
    "eusc-de-east-1": "877088126301",
    "il-central-1": "066635153087",
    "me-central-1": "759879836304",
    "me-south-1": "558608220178",
    "mx-central-1": "730335286997",
    "us-gov-east-1": "151742754352",
    "us-gov-west-1": "013241004608",
}
# The sandbox image the EKS optimized AMIs cache (awslabs/amazon-eks-ami doc/usage "Container
# Images"): the pod starts without a pull on those AMIs.
PAUSE_TAG = "3.8"


def registry_host(region: str) -> str:
    """``<account>.dkr.ecr.<region>.<domain>`` for the region's EKS image registry."""
    account = REGISTRY_ACCOUNTS.get(region, DEFAULT_ACCOUNT)
    if region.startswith("cn-"):
        domain = "amazonaws.com.cn"
    elif region.startswith("eusc-"):
        domain = "amazonaws.eu"
    else:
        domain = "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}"


def pause_image(region: str) -> str:
    return f"{registry_host(region)}/eks/pause:{PAUSE_TAG}"
