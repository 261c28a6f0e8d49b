"""Key pairs for the signing tests, made once per session with `zerocve key generate`."""

from __future__ import annotations

import pytest

from support.signing import KeyPair, make_key_pair


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_key_pair(tmp_path_factory.mktemp("keys"), "cosign")


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_key_pair(tmp_path_factory.mktemp("other-keys"), "other")
