"""Remediation: what a proposed IAM change would do to the fleet, and plans that change it safely."""
