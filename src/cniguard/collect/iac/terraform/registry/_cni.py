# ruff: noqa: E501  (the strings are HCL, filled with %-substitution: HCL uses braces)
"""HCL fragments shared by the emulations (IAM policy statements written as upstream has them)."""

IPV4_ACTIONS = """[
        "ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface",
        "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeInstances",
        "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes",
        "ec2:DescribeSubnets", "ec2:DetachNetworkInterface",
        "ec2:ModifyNetworkInterfaceAttribute", "ec2:UnassignPrivateIpAddresses",
      ]"""

IPV6_ACTIONS = """[
        "ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeTags",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes",
      ]"""

COMMON = """
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  major      = try(tonumber(regex("[0-9]+", var.cniguard_module_version)), 21)
}
variable "cniguard_module_version" {
  default = ""
}
"""

NODE_ROLE_POLICIES = """
  cni_policies = merge(
    { for k, v in { AmazonEKS_CNI_Policy = "arn:${local.partition}:iam::aws:policy/AmazonEKS_CNI_Policy" } :
      k => v if var.%(attach)s && var.cluster_ip_family == "ipv4" },
    { for k, v in { AmazonEKS_CNI_IPv6_Policy = "arn:${local.partition}:iam::${local.account_id}:policy/AmazonEKS_CNI_IPv6_Policy" } :
      k => v if var.%(attach)s && var.cluster_ip_family == "ipv6" },
  )
"""

EC2_TRUST = """
data "aws_iam_policy_document" "%(name)s" {
  count = %(count)s
  statement {
    sid     = "EKSNodeAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["%(service)s"]
    }
  }
}
"""
