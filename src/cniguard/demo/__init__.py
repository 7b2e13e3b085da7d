"""The built-in demo fleet (no AWS account needed)."""

from cniguard.demo.fleet import DEMO_NOW, build_fleet, demo_config

__all__ = ["DEMO_NOW", "build_fleet", "demo_config"]
