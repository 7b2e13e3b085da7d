# ruff: noqa: E501, UP031  (the strings are HCL, filled with %-substitution: HCL uses braces)
"""terraform-aws-modules/eks (v18 to v21), the parts that decide CNI permissions.

Read from terraform-aws-modules/terraform-aws-eks: ``main.tf`` (cluster, ``enable_irsa`` OIDC
provider with ``sts.amazonaws.com``, ``addons``/``cluster_addons`` incl. ``before_compute`` and
``pod_identity_association``, Auto Mode ``aws_iam_role.eks_auto``), ``node_groups.tf`` (node group
maps passed through ``try(each.value.x, var.<kind>_defaults.x, default)`` in v18-v20,
``create_cni_ipv6_iam_policy``, ``metadata_options`` hop limit 2 before v21),
``modules/eks-managed-node-group/main.tf`` and ``variables.tf`` (``iam_role_attach_cni_policy``
default true, ``nullable = false``; IPv4 attaches AmazonEKS_CNI_Policy, IPv6 the account's
AmazonEKS_CNI_IPv6_Policy; v21 ``metadata_options`` hop limit 1, IMDSv2 required),
``modules/self-managed-node-group``, ``modules/fargate-profile`` and ``modules/karpenter/main.tf``
(``node_iam_role_attach_cni_policy``, access entry ``EC2_LINUX``).
"""

from cniguard.collect.iac.terraform.registry._cni import (
    COMMON,
    EC2_TRUST,
    IPV6_ACTIONS,
    NODE_ROLE_POLICIES,
)

_GROUP_ARGS = """
  create                        = try(each.value.create, null) != false
  cluster_name                  = aws_eks_cluster.this[0].name
  cluster_ip_family             = local.ip_family
  cniguard_module_version       = var.cniguard_module_version
  name                          = try(coalesce(each.value.name, each.key), each.key)
  create_iam_role               = try(each.value.create_iam_role, var.%(d)s.create_iam_role, true)
  iam_role_arn                  = try(each.value.iam_role_arn, var.%(d)s.iam_role_arn, null)
  iam_role_name                 = try(each.value.iam_role_name, var.%(d)s.iam_role_name, null)
  iam_role_use_name_prefix      = try(each.value.iam_role_use_name_prefix, var.%(d)s.iam_role_use_name_prefix, true)
  iam_role_attach_cni_policy    = try(each.value.iam_role_attach_cni_policy, var.%(d)s.iam_role_attach_cni_policy, true)
  iam_role_additional_policies  = try(each.value.iam_role_additional_policies, var.%(d)s.iam_role_additional_policies, {})
  tags                          = merge(var.tags, try(each.value.tags, {}))
"""

_NODE_ARGS = """
  metadata_options              = try(each.value.metadata_options, var.%(d)s.metadata_options, null)
  ami_type                      = try(each.value.ami_type, var.%(d)s.ami_type, null)
  use_custom_launch_template    = try(each.value.use_custom_launch_template, var.%(d)s.use_custom_launch_template, true)
"""

ROOT = {
    "main.tf": COMMON
    + """
variable "create" { default = true }
variable "name" { default = null }
variable "cluster_name" { default = null }
variable "kubernetes_version" { default = null }
variable "cluster_version" { default = null }
variable "ip_family" { default = null }
variable "cluster_ip_family" { default = null }
variable "authentication_mode" { default = null }
variable "enable_irsa" {
  default  = true
  nullable = false
}
variable "openid_connect_audiences" { default = [] }
variable "addons" { default = null }
variable "cluster_addons" { default = null }
variable "compute_config" { default = null }
variable "cluster_compute_config" { default = null }
variable "create_node_iam_role" { default = true }
variable "node_iam_role_name" { default = null }
variable "create_cni_ipv6_iam_policy" { default = false }
variable "eks_managed_node_groups" { default = {} }
variable "self_managed_node_groups" { default = {} }
variable "fargate_profiles" { default = {} }
variable "eks_managed_node_group_defaults" { default = {} }
variable "self_managed_node_group_defaults" { default = {} }
variable "fargate_profile_defaults" { default = {} }
variable "tags" { default = {} }
variable "cluster_tags" { default = {} }

locals {
  name      = try(coalesce(var.name, var.cluster_name), "")
  ip_family = try(coalesce(var.ip_family, var.cluster_ip_family), "ipv4")
  addons    = var.addons != null ? var.addons : (var.cluster_addons != null ? var.cluster_addons : {})
  compute   = var.compute_config != null ? var.compute_config : var.cluster_compute_config
  auto_mode = try(local.compute.enabled, false) == true
  auth_mode = var.authentication_mode != null ? var.authentication_mode : (local.major >= 20 ? "API_AND_CONFIG_MAP" : "CONFIG_MAP")
  create_auto_node_role = var.create && local.auto_mode && var.create_node_iam_role && try(local.compute.node_role_arn, null) == null
}

resource "aws_eks_cluster" "this" {
  count   = var.create ? 1 : 0
  name    = local.name
  version = try(coalesce(var.kubernetes_version, var.cluster_version), null)
  tags    = merge(var.tags, var.cluster_tags)
  kubernetes_network_config {
    ip_family = local.ip_family
  }
  access_config {
    authentication_mode = local.auth_mode
  }
  dynamic "compute_config" {
    for_each = local.compute != null ? [local.compute] : []
    content {
      enabled       = local.auto_mode
      node_pools    = try(compute_config.value.node_pools, null)
      node_role_arn = local.create_auto_node_role ? aws_iam_role.eks_auto[0].arn : try(compute_config.value.node_role_arn, null)
    }
  }
}

resource "aws_iam_openid_connect_provider" "oidc_provider" {
  count          = var.create && var.enable_irsa ? 1 : 0
  client_id_list = distinct(compact(concat(["sts.amazonaws.com"], var.openid_connect_audiences)))
  url            = aws_eks_cluster.this[0].identity[0].oidc[0].issuer
}

resource "aws_eks_addon" "before_compute" {
  for_each = { for k, v in local.addons : k => v if var.create && try(v.before_compute, false) == true }
  cluster_name             = aws_eks_cluster.this[0].name
  addon_name               = try(coalesce(each.value.name, each.key), each.key)
  addon_version            = try(each.value.addon_version, null)
  service_account_role_arn = try(each.value.service_account_role_arn, null)
  configuration_values     = try(each.value.configuration_values, null)
  dynamic "pod_identity_association" {
    for_each = try(each.value.pod_identity_association, null) != null ? each.value.pod_identity_association : []
    content {
      role_arn        = pod_identity_association.value.role_arn
      service_account = pod_identity_association.value.service_account
    }
  }
}

resource "aws_eks_addon" "this" {
  for_each = { for k, v in local.addons : k => v if var.create && try(v.before_compute, false) != true }
  cluster_name             = aws_eks_cluster.this[0].name
  addon_name               = try(coalesce(each.value.name, each.key), each.key)
  addon_version            = try(each.value.addon_version, null)
  service_account_role_arn = try(each.value.service_account_role_arn, null)
  configuration_values     = try(each.value.configuration_values, null)
  dynamic "pod_identity_association" {
    for_each = try(each.value.pod_identity_association, null) != null ? each.value.pod_identity_association : []
    content {
      role_arn        = pod_identity_association.value.role_arn
      service_account = pod_identity_association.value.service_account
    }
  }
}
"""
    + EC2_TRUST
    % {
        "name": "eks_auto_assume",
        "count": "local.create_auto_node_role ? 1 : 0",
        "service": "ec2.amazonaws.com",
    }
    + """
resource "aws_iam_role" "eks_auto" {
  count              = local.create_auto_node_role ? 1 : 0
  name_prefix        = "${try(coalesce(var.node_iam_role_name, "${local.name}-eks-auto"), "")}-"
  assume_role_policy = data.aws_iam_policy_document.eks_auto_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "eks_auto" {
  for_each = { for k, v in {
    AmazonEKSWorkerNodeMinimalPolicy   = "arn:${local.partition}:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy"
    AmazonEC2ContainerRegistryPullOnly = "arn:${local.partition}:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
  } : k => v if local.create_auto_node_role }
  policy_arn = each.value
  role       = aws_iam_role.eks_auto[0].name
}

data "aws_iam_policy_document" "cni_ipv6_policy" {
  count = var.create && var.create_cni_ipv6_iam_policy ? 1 : 0
  statement {
    sid       = "AssignDescribe"
    actions   = """
    + IPV6_ACTIONS
    + """
    resources = ["*"]
  }
  statement {
    sid       = "CreateTags"
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.partition}:ec2:*:*:network-interface/*"]
  }
}

resource "aws_iam_policy" "cni_ipv6_policy" {
  count  = var.create && var.create_cni_ipv6_iam_policy ? 1 : 0
  name   = "AmazonEKS_CNI_IPv6_Policy"
  policy = data.aws_iam_policy_document.cni_ipv6_policy[0].json
}

module "eks_managed_node_group" {
  source   = "./modules/eks-managed-node-group"
  for_each = var.create && var.eks_managed_node_groups != null ? var.eks_managed_node_groups : {}
"""
    + _GROUP_ARGS % {"d": "eks_managed_node_group_defaults"}
    + _NODE_ARGS % {"d": "eks_managed_node_group_defaults"}
    + """
}

module "self_managed_node_group" {
  source   = "./modules/self-managed-node-group"
  for_each = var.create && var.self_managed_node_groups != null ? var.self_managed_node_groups : {}
"""
    + _GROUP_ARGS % {"d": "self_managed_node_group_defaults"}
    + _NODE_ARGS % {"d": "self_managed_node_group_defaults"}
    + """
  access_entry = local.auth_mode != "CONFIG_MAP"
}

module "fargate_profile" {
  source   = "./modules/fargate-profile"
  for_each = var.create && var.fargate_profiles != null ? var.fargate_profiles : {}
"""
    + _GROUP_ARGS % {"d": "fargate_profile_defaults"}
    + """
}

output "cluster_name" { value = try(aws_eks_cluster.this[0].name, null) }
output "cluster_id" { value = try(aws_eks_cluster.this[0].id, null) }
output "cluster_arn" { value = try(aws_eks_cluster.this[0].arn, null) }
output "cluster_version" { value = try(aws_eks_cluster.this[0].version, null) }
output "cluster_oidc_issuer_url" { value = try(aws_eks_cluster.this[0].identity[0].oidc[0].issuer, null) }
output "oidc_provider" { value = try(replace(aws_eks_cluster.this[0].identity[0].oidc[0].issuer, "https://", ""), null) }
output "oidc_provider_arn" { value = try(aws_iam_openid_connect_provider.oidc_provider[0].arn, null) }
output "cluster_ip_family" { value = local.ip_family }
output "node_iam_role_arn" { value = try(aws_iam_role.eks_auto[0].arn, null) }
output "eks_managed_node_groups" { value = module.eks_managed_node_group }
output "self_managed_node_groups" { value = module.self_managed_node_group }
output "fargate_profiles" { value = module.fargate_profile }
""",
}

_GROUP_VARIABLES = (
    COMMON
    + """
variable "create" { default = true }
variable "cluster_name" { default = null }
variable "name" { default = "" }
variable "cluster_ip_family" {
  default  = "ipv4"
  nullable = false
}
variable "create_iam_role" {
  default  = true
  nullable = false
}
variable "iam_role_arn" { default = null }
variable "iam_role_name" { default = null }
variable "iam_role_use_name_prefix" {
  default  = true
  nullable = false
}
variable "iam_role_attach_cni_policy" {
  default  = true
  nullable = false
}
variable "iam_role_additional_policies" {
  default  = {}
  nullable = false
}
variable "tags" { default = {} }
"""
)

_NODE_VARIABLES = """
variable "metadata_options" { default = null }
variable "ami_type" { default = null }
variable "use_custom_launch_template" {
  default  = true
  nullable = false
}
locals {
  metadata_defaults = {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = local.major >= 21 ? 1 : 2
  }
  metadata_options = var.metadata_options == null ? local.metadata_defaults : (
    local.major >= 21
    ? merge(local.metadata_defaults, { for k, v in var.metadata_options : k => v if v != null })
    : var.metadata_options
  )
}
resource "aws_launch_template" "this" {
  count       = var.create && var.use_custom_launch_template ? 1 : 0
  name_prefix = "${var.name}-"
  metadata_options {
    http_endpoint               = try(local.metadata_options.http_endpoint, null)
    http_tokens                 = try(local.metadata_options.http_tokens, null)
    http_put_response_hop_limit = try(local.metadata_options.http_put_response_hop_limit, null)
  }
  dynamic "iam_instance_profile" {
    for_each = var.kind == "self_managed" ? [1] : []
    content {
      arn = local.create_iam_role ? aws_iam_instance_profile.this[0].arn : null
    }
  }
}
"""


def _node_role(suffix: str, service: str, kind: str) -> str:
    return (
        EC2_TRUST
        % {
            "name": "assume_role_policy",
            "count": "local.create_iam_role ? 1 : 0",
            "service": service,
        }
        + """
variable "kind" { default = "%(kind)s" }
locals {
  create_iam_role = var.create && var.create_iam_role
  iam_role_name   = try(coalesce(var.iam_role_name, "${var.name}-%(suffix)s"), var.name)
"""
        % {"suffix": suffix, "kind": kind}
        + NODE_ROLE_POLICIES % {"attach": "iam_role_attach_cni_policy"}
        + """}
resource "aws_iam_role" "this" {
  count              = local.create_iam_role ? 1 : 0
  name               = var.iam_role_use_name_prefix ? null : local.iam_role_name
  name_prefix        = var.iam_role_use_name_prefix ? "${local.iam_role_name}-" : null
  assume_role_policy = data.aws_iam_policy_document.assume_role_policy[0].json
  tags               = var.tags
}
resource "aws_iam_role_policy_attachment" "this" {
  for_each   = { for k, v in merge(local.base_policies, local.cni_policies) : k => v if local.create_iam_role }
  policy_arn = each.value
  role       = aws_iam_role.this[0].name
}
resource "aws_iam_role_policy_attachment" "additional" {
  for_each   = { for k, v in var.iam_role_additional_policies : k => v if local.create_iam_role }
  policy_arn = each.value
  role       = aws_iam_role.this[0].name
}
output "iam_role_arn" { value = try(aws_iam_role.this[0].arn, var.iam_role_arn) }
output "iam_role_name" { value = try(aws_iam_role.this[0].name, null) }
"""
    )


_WORKER_POLICIES = """
locals {
  base_policies = {
    AmazonEKSWorkerNodePolicy          = "arn:${local.partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy"
    AmazonEC2ContainerRegistryReadOnly = "arn:${local.partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
  }
}
"""

MANAGED_NODE_GROUP = {
    "main.tf": _GROUP_VARIABLES
    + _NODE_VARIABLES
    + _WORKER_POLICIES
    + _node_role("eks-node-group", "ec2.amazonaws.com", "managed")
    + """
resource "aws_eks_node_group" "this" {
  count           = var.create ? 1 : 0
  cluster_name    = var.cluster_name
  node_group_name = var.name
  node_role_arn   = local.create_iam_role ? aws_iam_role.this[0].arn : var.iam_role_arn
  ami_type        = var.ami_type
  tags            = var.tags
  dynamic "launch_template" {
    for_each = var.use_custom_launch_template ? [1] : []
    content {
      id      = aws_launch_template.this[0].id
      version = aws_launch_template.this[0].latest_version
    }
  }
}
""",
}

SELF_MANAGED_NODE_GROUP = {
    "main.tf": _GROUP_VARIABLES
    + _NODE_VARIABLES
    + _WORKER_POLICIES
    + _node_role("node-group", "ec2.amazonaws.com", "self_managed")
    + """
variable "access_entry" { default = true }
resource "aws_iam_instance_profile" "this" {
  count       = local.create_iam_role ? 1 : 0
  name_prefix = "${local.iam_role_name}-"
  role        = aws_iam_role.this[0].name
}
resource "aws_autoscaling_group" "this" {
  count = var.create ? 1 : 0
  name  = var.name
  launch_template {
    id      = try(aws_launch_template.this[0].id, null)
    version = try(aws_launch_template.this[0].latest_version, null)
  }
  tag {
    key                 = "kubernetes.io/cluster/${var.cluster_name}"
    value               = "owned"
    propagate_at_launch = true
  }
}
resource "aws_eks_access_entry" "this" {
  count         = var.create && var.access_entry ? 1 : 0
  cluster_name  = var.cluster_name
  principal_arn = local.create_iam_role ? aws_iam_role.this[0].arn : var.iam_role_arn
  type          = startswith(coalesce(var.ami_type, "AL2023"), "WINDOWS") ? "EC2_WINDOWS" : "EC2_LINUX"
}
""",
}

FARGATE_PROFILE = {
    "main.tf": _GROUP_VARIABLES
    + """
locals {
  base_policies = {
    AmazonEKSFargatePodExecutionRolePolicy = "arn:${local.partition}:iam::aws:policy/AmazonEKSFargatePodExecutionRolePolicy"
  }
}
"""
    + _node_role("", "eks-fargate-pods.amazonaws.com", "fargate")
    + """
resource "aws_eks_fargate_profile" "this" {
  count                  = var.create ? 1 : 0
  cluster_name           = var.cluster_name
  fargate_profile_name   = var.name
  pod_execution_role_arn = local.create_iam_role ? aws_iam_role.this[0].arn : var.iam_role_arn
}
""",
}

KARPENTER = {
    "main.tf": COMMON
    + """
variable "create" { default = true }
variable "cluster_name" { default = "" }
variable "cluster_ip_family" { default = "ipv4" }
variable "create_node_iam_role" { default = true }
variable "node_iam_role_arn" { default = null }
variable "node_iam_role_name" { default = null }
variable "node_iam_role_use_name_prefix" { default = true }
variable "node_iam_role_attach_cni_policy" { default = true }
variable "node_iam_role_additional_policies" { default = {} }
variable "create_access_entry" { default = true }
variable "access_entry_type" { default = "EC2_LINUX" }
variable "tags" { default = {} }
locals {
  create_node_iam_role = var.create && var.create_node_iam_role
  node_iam_role_name   = coalesce(var.node_iam_role_name, "Karpenter-${var.cluster_name}")
"""
    + NODE_ROLE_POLICIES % {"attach": "node_iam_role_attach_cni_policy"}
    + """}
"""
    + EC2_TRUST
    % {
        "name": "node_assume_role",
        "count": "local.create_node_iam_role ? 1 : 0",
        "service": "ec2.amazonaws.com",
    }
    + """
resource "aws_iam_role" "node" {
  count              = local.create_node_iam_role ? 1 : 0
  name               = var.node_iam_role_use_name_prefix ? null : local.node_iam_role_name
  name_prefix        = var.node_iam_role_use_name_prefix ? "${local.node_iam_role_name}-" : null
  assume_role_policy = data.aws_iam_policy_document.node_assume_role[0].json
  tags               = var.tags
}
resource "aws_iam_role_policy_attachment" "node" {
  for_each = { for k, v in merge({
    AmazonEKSWorkerNodePolicy          = "arn:${local.partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy"
    AmazonEC2ContainerRegistryPullOnly = "arn:${local.partition}:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
  }, local.cni_policies) : k => v if local.create_node_iam_role }
  policy_arn = each.value
  role       = aws_iam_role.node[0].name
}
resource "aws_iam_role_policy_attachment" "node_additional" {
  for_each   = { for k, v in var.node_iam_role_additional_policies : k => v if local.create_node_iam_role }
  policy_arn = each.value
  role       = aws_iam_role.node[0].name
}
resource "aws_eks_access_entry" "node" {
  count         = var.create && var.create_access_entry ? 1 : 0
  cluster_name  = var.cluster_name
  principal_arn = var.create_node_iam_role ? aws_iam_role.node[0].arn : var.node_iam_role_arn
  type          = var.access_entry_type
}
output "node_iam_role_arn" { value = try(aws_iam_role.node[0].arn, var.node_iam_role_arn) }
output "node_iam_role_name" { value = try(aws_iam_role.node[0].name, null) }
""",
}
