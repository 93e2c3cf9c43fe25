"""Small-cell suppression (DESIGN §2 rule 2): a count about fewer than k people is not shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.signals.domain.suppression import DEFAULT_K, Cell, disclose


def test_the_default_k_is_five() -> None:
    assert DEFAULT_K == 5


def test_zero_is_shown() -> None:
    assert disclose(0, DEFAULT_K) == Cell(count=0, suppressed=False)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_a_count_below_k_is_hidden(count: int) -> None:
    assert disclose(count, DEFAULT_K) == Cell(count=None, suppressed=True)


def test_a_count_of_exactly_k_is_shown() -> None:
    assert disclose(5, DEFAULT_K) == Cell(count=5, suppressed=False)


def test_a_larger_k_hides_more() -> None:
    assert disclose(7, 8) == Cell(count=None, suppressed=True)
    assert disclose(8, 8) == Cell(count=8, suppressed=False)


@pytest.mark.parametrize("k", [4, 1, 0, -5])
def test_k_below_five_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="at least 5"):
        disclose(10, k)


@pytest.mark.parametrize("count", [-1, -100])
def test_a_negative_count_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        disclose(count, DEFAULT_K)


@given(count=st.integers(min_value=0, max_value=100_000), k=st.integers(min_value=DEFAULT_K, max_value=1_000))
def test_a_shown_count_never_describes_fewer_than_k_people(count: int, k: int) -> None:
    cell = disclose(count, k)

    if cell.suppressed:
        assert cell.count is None
        assert 0 < count < k
    else:
        assert cell.count == count
        assert cell.count == 0 or cell.count >= k


@given(count=st.integers(min_value=0, max_value=100_000), k=st.integers(min_value=DEFAULT_K, max_value=1_000))
def test_raising_k_never_reveals_a_hidden_count(count: int, k: int) -> None:
    if disclose(count, k).suppressed:
        assert disclose(count, k + 1).suppressed
