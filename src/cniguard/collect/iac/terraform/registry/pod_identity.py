# ruff: noqa: E501  (the strings are HCL, filled with %-substitution: HCL uses braces)
"""terraform-aws-modules/eks-pod-identity, the VPC CNI part.

Read from terraform-aws-modules/terraform-aws-eks-pod-identity (v2.8.1) ``main.tf`` (trust on
``pods.eks.amazonaws.com`` with ``sts:AssumeRole`` + ``sts:TagSession``; one
``aws_eks_pod_identity_association`` per ``associations`` entry, falling back to
``association_defaults``) and ``aws_vpc_cni.tf`` (``attach_aws_vpc_cni_policy``,
``aws_vpc_cni_enable_ipv4/ipv6``, policy name ``<policy_name_prefix>VPC_CNI``).
"""

from cniguard.collect.iac.terraform.registry._cni import COMMON, IPV6_ACTIONS

POD_IDENTITY = {
    "main.tf": COMMON
    + """
variable "create" { default = true }
variable "name" { default = "" }
variable "use_name_prefix" { default = true }
variable "path" { default = null }
variable "permissions_boundary_arn" { default = null }
variable "attach_aws_vpc_cni_policy" { default = false }
variable "aws_vpc_cni_enable_ipv4" { default = false }
variable "aws_vpc_cni_enable_ipv6" { default = false }
variable "aws_vpc_cni_policy_name" { default = null }
variable "policy_name_prefix" { default = "AmazonEKS_" }
variable "additional_policy_arns" { default = {} }
variable "associations" { default = {} }
variable "association_defaults" { default = {} }
variable "tags" { default = {} }

data "aws_iam_policy_document" "assume" {
  count = var.create ? 1 : 0
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count                = var.create ? 1 : 0
  name                 = var.use_name_prefix ? null : var.name
  name_prefix          = var.use_name_prefix ? "${var.name}-" : null
  path                 = var.path
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy   = data.aws_iam_policy_document.assume[0].json
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each   = { for k, v in var.additional_policy_arns : k => v if var.create }
  role       = aws_iam_role.this[0].name
  policy_arn = each.value
}

data "aws_iam_policy_document" "vpc_cni" {
  count = var.create && var.attach_aws_vpc_cni_policy ? 1 : 0
  statement {
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.partition}:ec2:*:*:network-interface/*"]
  }
  dynamic "statement" {
    for_each = var.aws_vpc_cni_enable_ipv4 ? [1] : []
    content {
      actions = [
        "ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface",
        "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeInstances",
        "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DetachNetworkInterface",
        "ec2:ModifyNetworkInterfaceAttribute", "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
  dynamic "statement" {
    for_each = var.aws_vpc_cni_enable_ipv6 ? [1] : []
    content {
      actions   = """
    + IPV6_ACTIONS
    + """
      resources = ["*"]
    }
  }
}

locals {
  aws_vpc_cni_policy_name = coalesce(var.aws_vpc_cni_policy_name, "${var.policy_name_prefix}VPC_CNI")
}

resource "aws_iam_policy" "vpc_cni" {
  count       = var.create && var.attach_aws_vpc_cni_policy ? 1 : 0
  name        = var.use_name_prefix ? null : local.aws_vpc_cni_policy_name
  name_prefix = var.use_name_prefix ? "${local.aws_vpc_cni_policy_name}-" : null
  policy      = data.aws_iam_policy_document.vpc_cni[0].json
}

resource "aws_iam_role_policy_attachment" "vpc_cni" {
  count      = var.create && var.attach_aws_vpc_cni_policy ? 1 : 0
  role       = aws_iam_role.this[0].name
  policy_arn = aws_iam_policy.vpc_cni[0].arn
}

resource "aws_eks_pod_identity_association" "this" {
  for_each        = { for k, v in var.associations : k => v if var.create }
  cluster_name    = try(coalesce(try(each.value.cluster_name, null), try(var.association_defaults.cluster_name, null)), null)
  namespace       = try(coalesce(try(each.value.namespace, null), try(var.association_defaults.namespace, null)), null)
  service_account = try(coalesce(try(each.value.service_account, null), try(var.association_defaults.service_account, null)), null)
  role_arn        = aws_iam_role.this[0].arn
  target_role_arn = try(each.value.target_role_arn, null)
}

output "iam_role_arn" { value = try(aws_iam_role.this[0].arn, null) }
output "iam_role_name" { value = try(aws_iam_role.this[0].name, null) }
""",
}
