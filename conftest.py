"""Settings shared by every test in the repository."""

import pytest
from hypothesis import HealthCheck, settings

# A shared 2-core machine is slow at times: no per-example deadline, and no health check for slow data.
settings.register_profile("bmw", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bmw")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n`` (``make test``), keep each test folder on one worker (``--dist loadgroup``).

    A folder shares its fixtures: a service's integration tests share one running service (and the end-to-end tests
    one whole stack, its log scan last), so splitting a folder over two workers would start it twice.
    """
    root = config.rootpath
    for item in items:
        if not any(mark.name == "xdist_group" for mark in item.iter_markers()):
            item.add_marker(pytest.mark.xdist_group(str(item.path.parent.relative_to(root))))
