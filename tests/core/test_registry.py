import subprocess
import sys

import pytest
from torch import nn

from noether.core import registry
from noether.core.registry import lookup, register_model, register_task


def test_scan_finds_registrations_without_importing(subprocess_env):
    code = (
        "import sys\n"
        "from noether.core import registry\n"
        "assert 'noether.train.toy' not in sys.modules\n"
        "assert 'toy-mlp' in registry.available('model')\n"
        "assert 'toy-regression' in registry.available('task')\n"
        "assert 'noether.train.toy' not in sys.modules\n"
        "cls = registry.lookup('model', 'toy-mlp')\n"
        "assert cls.__module__ == 'noether.train.toy' and 'noether.train.toy' in sys.modules\n"
        "assert 'lightning' not in sys.modules, 'registering must not import Lightning'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_register_and_lookup_in_process():
    @register_model("test-registry-linear")
    class Linear(nn.Linear):
        pass

    assert lookup("model", "test-registry-linear") is Linear
    assert "test-registry-linear" in registry.available("model")


def test_same_name_twice_is_an_error():
    @register_task("test-registry-dup")
    class First:
        pass

    with pytest.raises(ValueError, match=r"already registered by .*First"):

        @register_task("test-registry-dup")
        class Second:
            pass


def test_module_path_needs_no_registration():
    assert lookup("model", "torch.nn:Linear") is nn.Linear
    with pytest.raises(KeyError, match="no attribute 'Nope'"):
        lookup("model", "torch.nn:Nope")


def test_unknown_name_lists_what_is_available():
    with pytest.raises(KeyError, match=r"unknown model 'no-such-model'; available: .*toy-mlp"):
        lookup("model", "no-such-model")


def test_bad_names_are_rejected():
    for bad in ("", "a:b", 3):
        with pytest.raises(ValueError, match="non-empty string"):
            register_model(bad)
