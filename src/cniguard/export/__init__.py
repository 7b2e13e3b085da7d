"""Sending findings to other systems (AWS Security Hub)."""
