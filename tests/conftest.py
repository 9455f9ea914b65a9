"""Shared fixtures: tiny models of every family (fast, offline) and the packaged SmolLM2."""

from __future__ import annotations

import inspect
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
import torch
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from steerid.models import load_model
from steerid.models.tiny import TINY_CONFIGS

torch.set_num_threads(1)  # tiny models are overhead-bound; one thread is fastest and deterministic

FAMILIES = sorted(TINY_CONFIGS)


@pytest.fixture(scope="module")
def one_thread():
    """Run torch and BLAS single-threaded for one test module, then restore torch's thread count.

    Tiny-model forwards, single-token autograd graphs, small eigen-decompositions and the many
    small L-BFGS / lasso fits of the extraction and recovery tests slow down by 4–40× when two
    threads compete for the two shared cores with other processes. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")`` (or from a directory's conftest).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session", params=FAMILIES)
def tiny_lm(request):
    """A tiny random model of each family (parametrised)."""
    return load_model(f"tiny:{request.param}")


@pytest.fixture(scope="session")
def llama_lm():
    return load_model("tiny:llama")


@pytest.fixture(scope="session")
def smollm2():
    """The packaged default model (converted to the safetensors cache on first use)."""
    return load_model("smollm2-135m")


def _check_sklearn_contract(make, fit):
    """Assert the scikit-learn estimator contract for ``make()`` fitted by ``fit(estimator)``.

    Hyper-parameters are exactly the ``__init__`` arguments and are returned unchanged by
    ``get_params`` (before and after ``fit``); the repr shows exactly the non-default ones
    (``Name()`` for a default estimator) and ``set_params`` / ``clone`` rebuild it; ``fit`` returns
    ``self`` and adds only public attributes ending in ``_``; ``params()`` (where present) is
    JSON-safe. Give ``make`` some non-default parameters so the repr check means something.
    """
    estimator = make()
    cls = type(estimator)
    names = [] if cls.__init__ is object.__init__ else [p for p in inspect.signature(cls.__init__).parameters
                                                        if p != "self"]
    before = estimator.get_params()
    assert sorted(before) == sorted(names)
    assert repr(cls()) == f"{cls.__name__}()"
    defaults = cls().get_params()
    changed = {k: v for k, v in before.items() if repr(v) != repr(defaults[k])}
    text = repr(estimator)
    assert all(f"{k}=" in text for k in changed) and not any(f"{k}=" in text for k in set(before) - set(changed))
    rebuilt = cls().set_params(**changed)
    assert repr(rebuilt) == text and repr(clone(estimator)) == text
    state = dict(vars(estimator))
    assert fit(estimator) is estimator
    new = {k for k in vars(estimator) if k not in state}
    assert new and all(k.endswith("_") and not k.startswith("_") for k in new), sorted(new)
    after = estimator.get_params()
    for key, value in before.items():  # fit leaves the hyper-parameters untouched
        assert after[key] is value
    if callable(getattr(estimator, "params", None)):
        record = estimator.params()
        assert json.loads(json.dumps(record)) == record


@pytest.fixture(scope="session")
def sklearn_contract():
    """The scikit-learn estimator contract check (``check(make, fit)``), shared by the extraction
    and recovery tests."""
    return _check_sklearn_contract


@pytest.fixture(scope="session", autouse=True)
def strict_results_json(tmp_path_factory):
    """Every ``results.json`` the suite's audits wrote (in-process or in child processes, all under
    pytest's temporary directory) must be strict JSON: ``JSON.parse`` in a browser refuses NaN."""
    yield
    from _strict_json import non_strict_files

    bad = non_strict_files(tmp_path_factory.getbasetemp())
    assert not bad, "results.json that is not strict JSON:\n" + "\n".join(bad)
