"""The stack under test: providers (local, docker, external) and one module per real service.

    >>> from pytest_prodcheck.stack.provider import open_stack
    >>> with open_stack(settings) as endpoints:        # Endpoints: URLs, DSNs, CA bundles, S3, ACME
    ...     ...

Modules (import the one you need; nothing heavy is imported here):

- ``endpoints``  what a provider yields (:class:`Endpoints`, :class:`MissingEndpoint`)
- ``provider``   :func:`open_stack` by ``settings.target``
- ``local``      :class:`LocalStack`: every service below as child processes on free ports
- ``external``   endpoints from ``prodcheck.toml`` only
- ``containers`` the same stack as containers (an engine: yours, or a private dockerd)
- ``postgres``, ``pgbouncer``, ``nginx``, ``s3``, ``pebble``, ``certs``: one service each
- ``_proc``      temp dirs, free ports, process groups that never outlive the run
"""
