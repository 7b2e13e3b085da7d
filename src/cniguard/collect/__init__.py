"""Collectors: the I/O edge. Each turns one kind of source into the inventory model."""
