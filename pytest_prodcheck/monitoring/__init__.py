"""Monitoring for the embedded stack and checks against any Prometheus/Alertmanager.

rules.render_rules(production=True)      # the starter alert rules shipped with prodcheck
MonitoringStack(...).start()             # Prometheus + Alertmanager + exporters + webhook receiver
"""
