"""History store: every scan, findings tracked across scans, KPIs over time (SQLAlchemy+Alembic)."""

from cniguard.store.repository import save_report

__all__ = ["save_report"]
