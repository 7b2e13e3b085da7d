"""terraform-aws-modules/iam IRSA role modules (v5 ``iam-role-for-service-accounts-eks``, v6
``iam-role-for-service-accounts``).

Read from terraform-aws-modules/terraform-aws-iam ``modules/iam-role-for-service-accounts/main.tf``
and ``policies.tf`` (v6.5.0) and the same files of v5.60.0 under
``modules/iam-role-for-service-accounts-eks``: trust per ``oidc_providers`` entry on
``<provider without arn prefix>:sub`` (``system:serviceaccount:<ns:sa>``) and ``:aud``
(``sts.amazonaws.com``) with ``trust_condition_test`` (v6) / ``assume_role_condition_test`` (v5),
default ``StringEquals``; ``attach_vpc_cni_policy`` with ``vpc_cni_enable_ipv4/ipv6`` (default
false: only ``ec2:CreateTags`` is granted then).
"""

from cniguard.collect.iac.terraform.registry._cni import COMMON, IPV4_ACTIONS, IPV6_ACTIONS

_TRUST_AND_CNI = (
    """
data "aws_iam_policy_document" "assume" {
  count = local.create ? 1 : 0
  dynamic "statement" {
    for_each = var.oidc_providers
    content {
      effect  = "Allow"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [statement.value.provider_arn]
      }
      condition {
        test     = local.condition_test
        variable = "${replace(statement.value.provider_arn, "/^(.*provider/)/", "")}:sub"
        values   = [for sa in statement.value.namespace_service_accounts : "system:serviceaccount:${sa}"]
      }
      condition {
        test     = local.condition_test
        variable = "${replace(statement.value.provider_arn, "/^(.*provider/)/", "")}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

data "aws_iam_policy_document" "vpc_cni" {
  count = local.create && var.attach_vpc_cni_policy ? 1 : 0
  dynamic "statement" {
    for_each = var.vpc_cni_enable_ipv4 ? [1] : []
    content {
      sid       = "IPV4"
      actions   = """
    + IPV4_ACTIONS
    + """
      resources = ["*"]
    }
  }
  dynamic "statement" {
    for_each = var.vpc_cni_enable_ipv6 ? [1] : []
    content {
      sid       = "IPV6"
      actions   = """
    + IPV6_ACTIONS
    + """
      resources = ["*"]
    }
  }
  statement {
    sid       = "CreateTags"
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.partition}:ec2:*:*:network-interface/*"]
  }
}

resource "aws_iam_policy" "vpc_cni" {
  count       = local.create && var.attach_vpc_cni_policy ? 1 : 0
  name_prefix = "${local.policy_prefix}CNI_Policy-"
  policy      = data.aws_iam_policy_document.vpc_cni[0].json
}

resource "aws_iam_role_policy_attachment" "vpc_cni" {
  count      = local.create && var.attach_vpc_cni_policy ? 1 : 0
  role       = aws_iam_role.this[0].name
  policy_arn = aws_iam_policy.vpc_cni[0].arn
}

resource "aws_iam_role_policy_attachment" "additional" {
  for_each   = { for k, v in local.policies : k => v if local.create }
  role       = aws_iam_role.this[0].name
  policy_arn = each.value
}

output "iam_role_arn" { value = try(aws_iam_role.this[0].arn, null) }
output "arn" { value = try(aws_iam_role.this[0].arn, null) }
output "iam_role_name" { value = try(aws_iam_role.this[0].name, null) }
output "name" { value = try(aws_iam_role.this[0].name, null) }

variable "oidc_providers" { default = {} }
variable "attach_vpc_cni_policy" { default = false }
variable "vpc_cni_enable_ipv4" { default = false }
variable "vpc_cni_enable_ipv6" { default = false }
variable "tags" { default = {} }
"""
)

IRSA_V5 = {
    "main.tf": COMMON
    + _TRUST_AND_CNI
    + """
variable "create_role" { default = true }
variable "role_name" { default = null }
variable "role_name_prefix" { default = null }
variable "role_path" { default = "/" }
variable "role_permissions_boundary_arn" { default = null }
variable "assume_role_condition_test" { default = "StringEquals" }
variable "role_policy_arns" { default = {} }
variable "policy_name_prefix" { default = "AmazonEKS_" }
locals {
  create         = var.create_role
  condition_test = var.assume_role_condition_test
  policies       = var.role_policy_arns
  policy_prefix  = var.policy_name_prefix
}
resource "aws_iam_role" "this" {
  count                = var.create_role ? 1 : 0
  name                 = var.role_name
  name_prefix          = var.role_name_prefix
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary_arn
  assume_role_policy   = data.aws_iam_policy_document.assume[0].json
  tags                 = var.tags
}
""",
}

IRSA_V6 = {
    "main.tf": COMMON
    + _TRUST_AND_CNI
    + """
variable "create" { default = true }
variable "name" { default = "" }
variable "use_name_prefix" { default = true }
variable "path" { default = null }
variable "permissions_boundary" { default = null }
variable "trust_condition_test" { default = "StringEquals" }
variable "policies" { default = {} }
variable "policy_name" { default = null }
locals {
  create         = var.create
  condition_test = var.trust_condition_test
  policies       = var.policies
  policy_prefix  = "AmazonEKS_"
}
resource "aws_iam_role" "this" {
  count                = var.create ? 1 : 0
  name                 = var.use_name_prefix ? null : var.name
  name_prefix          = var.use_name_prefix ? "${var.name}-" : null
  path                 = var.path
  permissions_boundary = var.permissions_boundary
  assume_role_policy   = data.aws_iam_policy_document.assume[0].json
  tags                 = var.tags
}
""",
}
