"""Settings shared by every test in the repository."""

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# A shared 2-core machine is slow at times: no per-example deadline, and no health check for slow data.
settings.register_profile("bmw", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bmw")


def _group_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under ``pytest -n`` (``make test``), keep each test folder on one worker (``--dist loadgroup``).

    A folder shares its fixtures: a service's integration tests share one running service (and the end-to-end tests
    one whole stack, its log scan last), so splitting a folder over two workers would start it twice and leave a
    test that reads back the folder's events without the events of the tests that ran on the other worker. Marked
    as each test is collected, so the mark is there whichever ``pytest_collection_modifyitems`` runs first.
    """
    if item.config.pluginmanager.hasplugin("xdist") and _group_of(item) is None:
        item.add_marker(pytest.mark.xdist_group(str(item.path.parent.relative_to(item.config.rootpath))))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Stop a ``--dist loadgroup`` run whose groups did not take, rather than run it spread out.

    pytest-xdist carries a test's group in a suffix of its node id (``…::test@group``, every test here has one);
    when the suffix is missing the tests go one by one to any worker and nothing says so (pytest 9.2 did this,
    pytest-xdist#1386).
    """
    lost = [nodeid for nodeid in ids if "@" not in nodeid.rsplit("]", 1)[-1]]
    if lost and node.config.getvalue("dist") == "loadgroup":
        pytest.exit(
            f"--dist loadgroup did not group {len(lost)} of {len(ids)} tests (first: {lost[0]}): this pytest-xdist "
            "cannot group under this pytest; see the pin of pytest in pyproject.toml",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
