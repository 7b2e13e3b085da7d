"""Tests of the Kubernetes side of collection (exports, live API, EKS tokens)."""
