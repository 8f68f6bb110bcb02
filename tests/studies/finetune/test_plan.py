"""What a fine-tuning study is: the arms' configs differ only in their start, learning rate and
frozen weights."""

import pytest

from noether.studies.finetune.plan import ARMS, FinetunePlan


def test_the_arms_share_everything_but_their_start():
    plan = FinetunePlan(out="o", lr=1e-3, finetune_lr=3e-4, freeze=("embedding",))
    scratch, tuned, frozen = (plan.config(arm, 1) for arm in ARMS)
    assert "finetune" not in scratch
    assert tuned["finetune"] == {"init_from": "o/runs/source"}
    assert frozen["finetune"] == {"init_from": "o/runs/source", "freeze": ["embedding"]}
    assert (scratch["optim"]["lr"], tuned["optim"]["lr"]) == (1e-3, 3e-4)
    for config in (tuned, frozen):
        for key in ("seed", "model", "task", "data", "schedule"):
            assert config[key] == scratch[key], key
    assert scratch["task"]["splits"] == "o/data/new_seed1.npz"
    assert scratch["trainer"]["max_steps"] == plan.steps
    assert plan.source_config()["model"] == scratch["model"]
    assert plan.source_config()["task"]["path"] == "o/data/source.h5"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arms": ("scratch", "nope")}, "unknown arms"),
        ({"frames": 4, "batch_size": 8}, "batch_size"),
        ({"seeds": ()}, "seeds"),
        ({"finetune_lr": 0.0}, "finetune_lr"),
    ],
)
def test_bad_plans_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        FinetunePlan(**change)
