"""Production integrations: DataFlow persistence, Nexus deployment, readiness checks, DistributedRuntime scale-out.

Each module imports its heavy dependency (``dataflow``, ``nexus``, ``redis``) only when used, so importing this
package costs nothing. Import the module you need:

- ``kaizen_lab.integrations.dataflow``: ``DataFlowStore``, ``enable_persistence`` (agent memory and execution
  records in SQLite or PostgreSQL);
- ``kaizen_lab.integrations.nexus``: ``deploy_agent``, ``create_multi_agent_service`` (API, CLI and MCP channels);
- ``kaizen_lab.integrations.production``: ``ProductionDeploymentManager`` (plan and readiness report);
- ``kaizen_lab.integrations.distributed``: ``DistributedRunner`` and ``worker_main`` (Redis workers).
"""

__all__: list[str] = []
