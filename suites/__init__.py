"""The product suite: one module per checklist area (run with ``pytest -m smoke``; installed,
with ``pytest --pyargs pytest_prodcheck.suites -m smoke``)."""
