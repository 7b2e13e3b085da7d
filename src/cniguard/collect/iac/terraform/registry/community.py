# ruff: noqa: E501  (the strings are HCL)
"""aws-ia/eks-blueprints-addons and the cloudposse EKS modules, the parts that decide CNI
permissions.

Read from aws-ia/terraform-aws-eks-blueprints-addons v1.24 ``main.tf`` (``aws_eks_addon.this``
over ``eks_addons``: ``name``, ``addon_version``, ``configuration_values``,
``service_account_role_arn``; no pod identity block is passed; the Karpenter node role with
AmazonEKS_CNI_Policy when ``enable_karpenter`` and ``karpenter_node.create_iam_role`` are not
false; the Fargate Fluent Bit
logs policy), cloudposse/terraform-aws-eks-node-group ``iam.tf`` (a node role named after the label
with ``workers`` appended, AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryReadOnly,
``node_role_policy_arns``, and while ``node_role_cni_policy_enabled`` (default true) a customer
policy ``<id>-CNI_Policy`` holding the CNI actions; ``node_role_arn`` given: none of these),
``launch-template.tf`` (metadata hop limit ``metadata_http_put_response_hop_limit`` default 2,
tokens required by default) and ``main.tf`` (``ami_type`` default AL2_x86_64),
cloudposse/terraform-aws-eks-cluster ``main.tf`` / ``auth.tf`` (IPv6 through
``kubernetes_network_ipv6_enabled``, ``oidc_provider_enabled`` default false, ``addons``
list with ``service_account_role_arn``, ``access_entries_for_nodes`` EC2_LINUX /
EC2_WINDOWS) and cloudposse/terraform-null-label 0.25 (the id: namespace, tenant, environment,
stage, name and attributes joined by ``-``, characters other than ``-a-zA-Z0-9`` dropped,
lower case).
"""

from cniguard.collect.iac.terraform.registry._cni import COMMON


def _label(attributes: str) -> str:
    """The null-label variables and id, with ``attributes`` appended (as the modules do)."""
    return (
        """
variable "context" { default = {} }
variable "enabled" { default = null }
variable "namespace" { default = null }
variable "tenant" { default = null }
variable "environment" { default = null }
variable "stage" { default = null }
variable "name" { default = null }
variable "delimiter" { default = null }
variable "attributes" { default = [] }
variable "tags" { default = {} }

locals {
  ctx         = var.context == null ? {} : var.context
  enabled     = try(coalesce(var.enabled, try(local.ctx.enabled, null)), true)
  delimiter   = try(coalesce(var.delimiter, try(local.ctx.delimiter, null)), "-")
  namespace   = try(coalesce(var.namespace, try(local.ctx.namespace, null)), "")
  tenant      = try(coalesce(var.tenant, try(local.ctx.tenant, null)), "")
  environment = try(coalesce(var.environment, try(local.ctx.environment, null)), "")
  stage       = try(coalesce(var.stage, try(local.ctx.stage, null)), "")
  label_name  = try(coalesce(var.name, try(local.ctx.name, null)), "")
  attributes  = distinct(compact(concat(try(tolist(local.ctx.attributes), []), var.attributes, ATTRIBUTES)))
  tags        = merge(try(local.ctx.tags, {}), var.tags)
  labels = [
    for l in [local.namespace, local.tenant, local.environment, local.stage, local.label_name, join(local.delimiter, local.attributes)] :
    replace(l, "/[^-a-zA-Z0-9]/", "") if l != ""
  ]
  id = local.enabled ? lower(join(local.delimiter, local.labels)) : ""
  context = {
    enabled     = local.enabled
    namespace   = local.namespace
    tenant      = local.tenant
    environment = local.environment
    stage       = local.stage
    name        = local.label_name
    delimiter   = local.delimiter
    attributes  = local.attributes
    tags        = local.tags
  }
}
"""
    ).replace("ATTRIBUTES", attributes)


LABEL = {
    "main.tf": _label("[]")
    + """
output "id" { value = local.id }
output "enabled" { value = local.enabled }
output "context" { value = local.context }
output "tags" { value = local.tags }
output "name" { value = local.label_name }
output "namespace" { value = local.namespace }
output "stage" { value = local.stage }
output "environment" { value = local.environment }
output "attributes" { value = local.attributes }
"""
}

BLUEPRINTS_ADDONS = {
    "main.tf": COMMON
    + """
variable "cluster_name" {}
variable "eks_addons" { default = {} }
variable "enable_karpenter" { default = false }
variable "karpenter_node" { default = {} }
variable "enable_fargate_fluentbit" { default = false }
variable "fargate_fluentbit" { default = {} }
variable "fargate_fluentbit_cw_log_group" { default = {} }
variable "tags" { default = {} }

locals {
  create_karpenter_node_iam_role = var.enable_karpenter && try(var.karpenter_node.create_iam_role, true)
  karpenter_node_iam_role_name   = try(var.karpenter_node.iam_role_name, "karpenter-${var.cluster_name}")
  iam_role_policy_prefix         = "arn:${local.partition}:iam::aws:policy"
}

resource "aws_eks_addon" "this" {
  for_each = var.eks_addons

  cluster_name             = var.cluster_name
  addon_name               = try(each.value.name, each.key)
  addon_version            = try(each.value.addon_version, null)
  configuration_values     = try(each.value.configuration_values, null)
  service_account_role_arn = try(each.value.service_account_role_arn, null)
}

data "aws_iam_policy_document" "karpenter_assume_role" {
  count = local.create_karpenter_node_iam_role ? 1 : 0
  statement {
    sid     = "KarpenterNodeAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "karpenter" {
  count = local.create_karpenter_node_iam_role ? 1 : 0

  name                 = try(var.karpenter_node.iam_role_use_name_prefix, true) ? null : local.karpenter_node_iam_role_name
  name_prefix          = try(var.karpenter_node.iam_role_use_name_prefix, true) ? "${local.karpenter_node_iam_role_name}-" : null
  assume_role_policy   = try(data.aws_iam_policy_document.karpenter_assume_role[0].json, "")
  permissions_boundary = try(var.karpenter_node.iam_role_permissions_boundary, null)
  tags                 = merge(var.tags, try(var.karpenter_node.iam_role_tags, {}))
}

resource "aws_iam_role_policy_attachment" "karpenter" {
  for_each = { for k, v in {
    AmazonEKSWorkerNodePolicy          = "${local.iam_role_policy_prefix}/AmazonEKSWorkerNodePolicy",
    AmazonEC2ContainerRegistryReadOnly = "${local.iam_role_policy_prefix}/AmazonEC2ContainerRegistryReadOnly",
    AmazonEKS_CNI_Policy               = "${local.iam_role_policy_prefix}/AmazonEKS_CNI_Policy"
  } : k => v if local.create_karpenter_node_iam_role }

  policy_arn = each.value
  role       = aws_iam_role.karpenter[0].name
}

resource "aws_iam_role_policy_attachment" "additional" {
  for_each = { for k, v in lookup(var.karpenter_node, "iam_role_additional_policies", {}) : k => v if local.create_karpenter_node_iam_role }

  policy_arn = each.value
  role       = aws_iam_role.karpenter[0].name
}

resource "aws_iam_instance_profile" "karpenter" {
  count = var.enable_karpenter && try(var.karpenter_node.create_instance_profile, true) ? 1 : 0
  name  = local.karpenter_node_iam_role_name
  role  = try(aws_iam_role.karpenter[0].name, var.karpenter_node.iam_role_name, "")
}

# Fargate Fluent Bit: a logs-only policy for pod execution roles (its resources simplified: they
# decide nothing about CNI permissions)
resource "aws_iam_policy" "fargate_fluentbit" {
  count       = try(var.fargate_fluentbit_cw_log_group.create, true) && var.enable_fargate_fluentbit ? 1 : 0
  name_prefix = try(var.fargate_fluentbit.policy_name_prefix, "${var.cluster_name}-fargate-fluentbit-logs-")
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutLogEvents"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = "arn:${local.partition}:logs:*:${local.account_id}:log-group:*"
    }]
  })
}

output "eks_addons" { value = aws_eks_addon.this }
output "fargate_fluentbit" { value = { iam_policy = aws_iam_policy.fargate_fluentbit } }
output "karpenter" {
  value = {
    node_iam_role_arn           = try(aws_iam_role.karpenter[0].arn, var.karpenter_node.iam_role_arn, "")
    node_iam_role_name          = try(aws_iam_role.karpenter[0].name, local.karpenter_node_iam_role_name)
    node_instance_profile_name  = try(aws_iam_instance_profile.karpenter[0].name, "")
  }
}
"""
}

CLOUDPOSSE_NODE_GROUP = {
    "main.tf": COMMON
    + _label('["workers"]')
    + """
variable "cluster_name" {}
variable "node_role_arn" { default = [] }
variable "node_role_cni_policy_enabled" { default = true }
variable "node_role_policy_arns" { default = [] }
variable "node_role_permissions_boundary" { default = null }
variable "ami_type" { default = "AL2_x86_64" }
variable "launch_template_id" { default = [] }
variable "metadata_http_endpoint_enabled" { default = true }
variable "metadata_http_put_response_hop_limit" { default = 2 }
variable "metadata_http_tokens_required" { default = true }

locals {
  create_role       = local.enabled && length(var.node_role_arn) == 0
  aws_policy_prefix = "arn:${local.partition}:iam::aws:policy"
  # the CNI policy is named after module.this (the label without "workers")
  this_id = lower(join(local.delimiter, [for l in [local.namespace, local.tenant, local.environment, local.stage, local.label_name, join(local.delimiter, distinct(compact(concat(try(tolist(local.ctx.attributes), []), var.attributes))))] : replace(l, "/[^-a-zA-Z0-9]/", "") if l != ""]))
}

data "aws_iam_policy_document" "assume_role" {
  count = local.create_role ? 1 : 0
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "default" {
  count                = local.create_role ? 1 : 0
  name                 = local.id
  assume_role_policy   = data.aws_iam_policy_document.assume_role[0].json
  permissions_boundary = var.node_role_permissions_boundary
  tags                 = local.tags
}

resource "aws_iam_role_policy_attachment" "amazon_eks_worker_node_policy" {
  count      = local.create_role ? 1 : 0
  policy_arn = "${local.aws_policy_prefix}/AmazonEKSWorkerNodePolicy"
  role       = aws_iam_role.default[0].name
}

resource "aws_iam_role_policy_attachment" "amazon_ec2_container_registry_read_only" {
  count      = local.create_role ? 1 : 0
  policy_arn = "${local.aws_policy_prefix}/AmazonEC2ContainerRegistryReadOnly"
  role       = aws_iam_role.default[0].name
}

resource "aws_iam_role_policy_attachment" "existing_policies_for_eks_workers_role" {
  count      = local.create_role ? length(var.node_role_policy_arns) : 0
  policy_arn = sort(var.node_role_policy_arns)[count.index]
  role       = aws_iam_role.default[0].name
}

data "aws_iam_policy_document" "ipv6_eks_cni_policy" {
  count = local.create_role && var.node_role_cni_policy_enabled ? 1 : 0
  statement {
    effect = "Allow"
    actions = [
      "ec2:AssignIpv6Addresses", "ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface",
      "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeInstances",
      "ec2:DescribeInstanceTypes", "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces",
      "ec2:DetachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }
  statement {
    effect    = "Allow"
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.partition}:ec2:*:*:network-interface/*"]
  }
}

resource "aws_iam_policy" "ipv6_eks_cni_policy" {
  count  = local.create_role && var.node_role_cni_policy_enabled ? 1 : 0
  name   = "${local.this_id}-CNI_Policy"
  policy = data.aws_iam_policy_document.ipv6_eks_cni_policy[0].json
}

resource "aws_iam_role_policy_attachment" "ipv6_eks_cni_policy" {
  count      = local.create_role && var.node_role_cni_policy_enabled ? 1 : 0
  policy_arn = aws_iam_policy.ipv6_eks_cni_policy[0].arn
  role       = aws_iam_role.default[0].name
}

resource "aws_launch_template" "default" {
  count = local.enabled && length(var.launch_template_id) == 0 ? 1 : 0
  name  = local.id
  metadata_options {
    http_endpoint               = var.metadata_http_endpoint_enabled ? "enabled" : "disabled"
    http_put_response_hop_limit = var.metadata_http_put_response_hop_limit
    http_tokens                 = var.metadata_http_tokens_required ? "required" : "optional"
  }
}

resource "aws_eks_node_group" "default" {
  count           = local.enabled ? 1 : 0
  cluster_name    = var.cluster_name
  node_group_name = local.id
  node_role_arn   = local.create_role ? aws_iam_role.default[0].arn : var.node_role_arn[0]
  ami_type        = var.ami_type
  launch_template {
    id = length(var.launch_template_id) == 0 ? aws_launch_template.default[0].id : var.launch_template_id[0]
  }
}

output "eks_node_group_role_arn" { value = local.create_role ? aws_iam_role.default[0].arn : var.node_role_arn[0] }
output "eks_node_group_role_name" { value = local.create_role ? aws_iam_role.default[0].name : "" }
output "eks_node_group_id" { value = local.id }
"""
}

CLOUDPOSSE_CLUSTER = {
    "main.tf": COMMON
    + _label("var.cluster_attributes")
    + """
variable "kubernetes_version" { default = "1.21" }
variable "kubernetes_network_ipv6_enabled" { default = false }
variable "cluster_attributes" { default = ["cluster"] }
variable "oidc_provider_enabled" { default = false }
variable "addons" { default = [] }
variable "access_config" { default = {} }
variable "access_entries_for_nodes" { default = {} }

locals {
  use_ipv6 = var.kubernetes_network_ipv6_enabled == true
}

resource "aws_eks_cluster" "default" {
  count   = local.enabled ? 1 : 0
  name    = local.id
  version = var.kubernetes_version
  access_config {
    authentication_mode = try(var.access_config.authentication_mode, "API")
  }
  dynamic "kubernetes_network_config" {
    for_each = local.use_ipv6 ? [true] : []
    content {
      ip_family = "ipv6"
    }
  }
}

resource "aws_iam_openid_connect_provider" "default" {
  count          = local.enabled && var.oidc_provider_enabled ? 1 : 0
  url            = aws_eks_cluster.default[0].identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_eks_addon" "cluster" {
  for_each = local.enabled ? { for addon in var.addons : addon.addon_name => addon } : {}

  cluster_name             = aws_eks_cluster.default[0].name
  addon_name               = each.key
  addon_version            = lookup(each.value, "addon_version", null)
  configuration_values     = lookup(each.value, "configuration_values", null)
  service_account_role_arn = lookup(each.value, "service_account_role_arn", null)
}

resource "aws_eks_access_entry" "linux" {
  for_each      = local.enabled ? toset(lookup(var.access_entries_for_nodes, "EC2_LINUX", [])) : []
  cluster_name  = aws_eks_cluster.default[0].name
  principal_arn = each.value
  type          = "EC2_LINUX"
}

resource "aws_eks_access_entry" "windows" {
  for_each      = local.enabled ? toset(lookup(var.access_entries_for_nodes, "EC2_WINDOWS", [])) : []
  cluster_name  = aws_eks_cluster.default[0].name
  principal_arn = each.value
  type          = "EC2_WINDOWS"
}

output "eks_cluster_id" { value = try(aws_eks_cluster.default[0].name, "") }
output "eks_cluster_arn" { value = try(aws_eks_cluster.default[0].arn, "") }
output "eks_cluster_identity_oidc_issuer" { value = try(aws_eks_cluster.default[0].identity[0].oidc[0].issuer, "") }
output "eks_cluster_identity_oidc_issuer_arn" { value = try(aws_iam_openid_connect_provider.default[0].arn, "") }
output "eks_cluster_version" { value = var.kubernetes_version }
output "cluster_name" { value = try(aws_eks_cluster.default[0].name, "") }
"""
}
