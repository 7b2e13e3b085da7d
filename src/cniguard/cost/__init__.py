"""FinOps figures: what CNI incidents cost and how many workloads the CNI's permissions reach.

Pure: prices come from the bundled dated table, the ``[cost]`` configuration or a price list the
live collector put in the inventory; nothing here calls AWS.
"""
