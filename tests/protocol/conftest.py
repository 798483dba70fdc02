"""conftest.py (protocol) — the fixtures every protocol module shares: one
Ember kernel per test module, and its client with IOPub drained before each
test so a test sees only its own messages."""
import pytest

from protocol_util import drain_iopub, start, stop


@pytest.fixture(scope="module")
def kernel():
    km, kc = start()
    yield km, kc
    stop(km, kc)


@pytest.fixture
def kc(kernel):
    _, kc = kernel
    drain_iopub(kc)
    return kc
