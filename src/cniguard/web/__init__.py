"""The dashboard, JSON API and Prometheus metrics over the history store (`cniguard serve`)."""
