"""Benchmarks of stateline against plain LangGraph (not tests): `python -m bench [--quick]`."""
