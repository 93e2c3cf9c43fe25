"""bmw.devstack: the ``bmw`` command, embedded PostgreSQL and broker, the local stack, dev tokens.

Modules:

- :mod:`bmw.devstack.topology`: the services and their Kafka topics.
- :mod:`bmw.devstack.infra`: :class:`~bmw.devstack.infra.EmbeddedPostgres`, :class:`~bmw.devstack.infra.EmbeddedBroker`,
  :func:`~bmw.devstack.infra.create_topics`, per-service database provisioning.
- :mod:`bmw.devstack.tokens`: the dev signing key and :func:`~bmw.devstack.tokens.mint_token`.
- :mod:`bmw.devstack.processes`: the child-process supervisor.
- :mod:`bmw.devstack.stack`: :class:`~bmw.devstack.stack.Stack`, everything ``bmw dev up`` starts.
- :mod:`bmw.devstack.demo`: demo client organisations, contracts and social workers.
- :mod:`bmw.devstack.cli`: the ``bmw`` command line.
- :mod:`bmw.devstack.pytest_plugin`: the ``infra`` and ``dev_keys`` fixtures (``-p bmw.devstack.pytest_plugin``).
"""
