"""Terraform: ``.tf`` / ``.tfvars`` (evaluated like ``terraform plan`` would, without AWS) and
``terraform show -json`` plan files, converted into the inventory model."""

from cniguard.collect.iac.terraform.collect import collect_terraform

__all__ = ["collect_terraform"]
