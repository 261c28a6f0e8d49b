"""The registry side of a rebuild: the staging tag, promotion and rollback.

- **Staging.** A new image is pushed by digest into its repository (untagged, so nothing
  there moves) and tagged ``stage-<hex>`` in a sibling repository ``REPO-staging``, where the
  staging run pulls it from. Dropping the staging tag deletes that manifest from the staging
  repository only: distribution registries delete by digest, which would take every tag of
  the digest with it, so the staging tag must not live beside the promoted ones.
- **Promotion.** Each tag moves by one manifest PUT of the bytes already in the registry (GET
  by digest, PUT under the tag): nothing is rebuilt or re-uploaded, and a tag can only ever
  point at a manifest the registry already holds in full. The build's immutable tag
  (``build-<hex>``) is written first, the floating tags after it.
- **Idempotence.** A tag already at the digest is left alone (HEAD first), so promoting twice,
  or again after a crash half way through, moves each tag at most once.

Rollback is a promotion of an older digest on the floating tags; holding the image is the
store's business (``zerocve.fleet.cycle``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zerocve.errors import RegistryError
from zerocve.oci.reference import Reference
from zerocve.oci.registry import RegistryClient

_HEX = 16  # digits of the digest in generated tags: unique in any one repository


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1][:_HEX]


def immutable_tag(digest: str) -> str:
    """The tag that names one build for ever (``build-3177328c0d6e1a2b``)."""
    return f"build-{_hex(digest)}"


def staging_repository(repository: str) -> str:
    return f"{repository}-staging"


def staging_reference(image: Reference, digest: str) -> Reference:
    """Where ``digest`` of ``image``'s repository is staged: ``REPO-staging:stage-<hex>``."""
    return Reference(
        image.registry, staging_repository(image.repository), f"stage-{_hex(digest)}", digest
    )


@dataclass(frozen=True)
class TagMove:
    """One tag's move; ``before`` is None for a new tag; ``moved`` is False when the tag
    already pointed at the digest (an earlier attempt moved it)."""

    tag: str
    before: str | None
    after: str

    @property
    def moved(self) -> bool:
        return self.before != self.after

    def to_json(self) -> dict[str, object]:
        return {"tag": self.tag, "before": self.before, "after": self.after}


def move_tags(
    client: RegistryClient, repository: str, digest: str, tags: Sequence[str]
) -> tuple[TagMove, ...]:
    """Point each of ``tags`` of ``repository`` at ``digest``, in order, by re-PUTting the
    manifest the registry already has. A tag already there is not written again. When the
    registry fails part way, the tags moved so far are put back where they were (as far as
    the registry lets us) before the error is raised: a failed promotion moves nothing."""
    manifest = client.get_manifest(repository, digest)
    moves: list[TagMove] = []
    try:
        for tag in tags:
            before = client.head_manifest(repository, tag)
            if before != digest:
                client.put_manifest(repository, tag, manifest.body, manifest.media_type)
            moves.append(TagMove(tag, before, digest))
    except RegistryError:
        _restore(client, repository, [m for m in moves if m.moved and m.before is not None])
        raise
    return tuple(moves)


def _restore(client: RegistryClient, repository: str, moves: Sequence[TagMove]) -> None:
    for move in moves:
        assert move.before is not None
        try:
            old = client.get_manifest(repository, move.before)
            client.put_manifest(repository, move.tag, old.body, old.media_type)
        except RegistryError:
            continue  # the registry is failing: the next attempt finishes the move instead


def promote(
    client: RegistryClient, repository: str, digest: str, floating: Sequence[str]
) -> tuple[TagMove, ...]:
    """The build's immutable tag, then the floating tags, at ``digest``."""
    return move_tags(client, repository, digest, [immutable_tag(digest), *floating])


@dataclass(frozen=True)
class Staged:
    reference: Reference  # REGISTRY/REPO-staging:stage-<hex>@DIGEST
    bytes_pushed: int  # blob bytes uploaded (blobs the registry had are not counted)


def push_staged(layout: Path, image: Reference, client: RegistryClient) -> Staged:
    """Push the OCI layout's image into ``image``'s repository by digest only, then tag it in
    the staging repository (its blobs mounted, not uploaded again). Pushing again uploads
    nothing: every blob is checked first."""
    # Imported here: a cycle with nothing to push (the cron case) need not load the pusher.
    from zerocve.publish import push_layout

    untagged = Reference(image.registry, image.repository, tag=None)
    pushed = push_layout(layout, untagged, client)
    staged = staging_reference(image, pushed.digest)
    again = push_layout(layout, staged, client, from_repo=image.repository)
    return Staged(staged, pushed.bytes_pushed + again.bytes_pushed)


def drop_staging(client: RegistryClient, staged: Reference) -> bool:
    """Delete the staged manifest (and so its staging tag) from the staging repository; False
    when it was already gone."""
    assert staged.digest is not None
    return client.delete_manifest(staged.repository, staged.digest)
