"""The SLMC plan: defaults of the paper's setting, and bad options refused by their flag."""

import pytest

from noether.studies.slmc.plan import SLMCPlan


def test_the_default_plan_is_the_papers_setting():
    model, scan = SLMCPlan().check()
    assert (model.L, model.J, model.mu, model.T) == (6, 4.0, -3.0, 0.03)
    assert scan == [0.02, 0.05, 0.08]
    assert SLMCPlan(temperatures="").check()[1] == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperatures": "0.1,x"}, "--temperatures must be comma-separated"),
        ({"temperatures": "0.1,-1"}, "--temperatures must all be positive"),
        ({"chains": 1}, "--chains must be at least 2"),
        ({"max_layers": -1}, "--max-layers must be at least 0"),
        ({"n_inner": 0}, "--n-inner must be at least 1"),
        ({"scale": float("nan")}, "--scale must be positive"),
    ],
)
def test_bad_options_are_refused_by_their_flag(options, message):
    with pytest.raises(ValueError, match=message):
        SLMCPlan(**options).check()
