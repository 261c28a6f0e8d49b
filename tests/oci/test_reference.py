"""Image reference parsing, against the cases docker and skopeo agree on."""

from __future__ import annotations

import pytest

from zerocve.errors import UsageError
from zerocve.oci.reference import Reference, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", None),
        ("127.0.0.1:5000/team/app:1.2", "127.0.0.1:5000", "team/app", "1.2", None),
        ("localhost/app:v1", "localhost", "app", "v1", None),
        ("localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", None),
        ("registry.example/app@" + D, "registry.example", "app", None, D),
        ("registry.example/app:t@" + D, "registry.example", "app", "t", D),
        ("[::1]:5000/app:t", "[::1]:5000", "app", "t", None),
        ("docker.io/debian:bookworm", "docker.io", "library/debian", "bookworm", None),
        ("docker.io/user/app", "docker.io", "user/app", "latest", None),
        (
            "127.0.0.1:5000/my_app.x-y__z:T_1.0-rc",
            "127.0.0.1:5000",
            "my_app.x-y__z",
            "T_1.0-rc",
            None,
        ),
    ],
)
def test_parse(text: str, registry: str, repository: str, tag: str | None, digest: str | None):
    ref = parse_reference(text)
    assert ref == Reference(registry, repository, tag, digest)


def test_roundtrip_and_reference():
    ref = parse_reference("127.0.0.1:5000/app:t")
    assert str(ref) == "127.0.0.1:5000/app:t"
    assert ref.reference == "t"
    pinned = ref.with_digest(D)
    assert str(pinned) == f"127.0.0.1:5000/app:t@{D}"
    assert pinned.reference == D
    assert parse_reference(str(pinned)) == pinned


def test_docker_hub_api_host():
    assert parse_reference("docker.io/debian").api_host == "registry-1.docker.io"
    assert parse_reference("127.0.0.1:5000/x").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("debian", "name the registry"),
        ("user/app:t", "name the registry"),
        (" app", "spaces"),
        ("http://127.0.0.1:5000/app", "scheme"),
        ("127.0.0.1:5000/App:t", "lowercase"),
        ("127.0.0.1:5000/app:-bad", "tag '-bad'"),
        ("127.0.0.1:5000/app:" + "x" * 129, "tag"),
        ("127.0.0.1:5000/app@sha256:abc", "digest 'sha256:abc'"),
        ("127.0.0.1:5000/app@md5:" + "a" * 32, "digest"),
        ("127.0.0.1:5000/", "no repository"),
        ("127.0.0.1:5000/a//b", "component ''"),
        ("bad_host.x:5000/app", "registry 'bad_host.x:5000'"),
        ("127.0.0.1:5000/" + "a" * 256, "longer than 255"),
    ],
)
def test_rejects(text: str, fragment: str):
    with pytest.raises(UsageError) as info:
        parse_reference(text)
    message = info.value.diagnostics()
    assert "\n" not in message
    assert fragment in message
