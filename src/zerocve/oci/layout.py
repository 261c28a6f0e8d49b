"""Write an image as an OCI image layout directory, all or nothing.

The layout is assembled in a temporary directory beside the target (same file system),
every file fsynced, then renamed into place. An existing target is moved aside only once the
new layout is complete, and removed after the swap; if anything fails, the target is left as
it was and the temporary directory is removed. Only an earlier layout (a directory holding
``oci-layout``) or an empty directory is ever replaced (``zerocve.outputs``).

A rebuild mostly writes what is there already. A blob the earlier layout holds byte for byte
is hard-linked into the new one instead of written and fsynced again (its bytes are compared,
not trusted by name: a damaged one is written anew); when the earlier layout is exactly the
new one, file for file and byte for byte, it is left as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zerocve._atomic import same_bytes
from zerocve.errors import BuildError
from zerocve.oci.image import ANNOTATION_REF_NAME, MEDIA_INDEX, OciImage, canonical_json
from zerocve.oci.media_types import DEFAULT_REF
from zerocve.outputs import check_layout_dir

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def index_json(image: OciImage, ref_name: str = DEFAULT_REF) -> bytes:
    """The layout's ``index.json``: one descriptor, the image's top document, tagged."""
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [image.top.descriptor(annotations={ANNOTATION_REF_NAME: ref_name})],
        }
    )


def layout_files(image: OciImage, ref_name: str = DEFAULT_REF) -> Iterator[tuple[str, bytes]]:
    """Every file of the layout as (relative path, content), in a fixed order."""
    yield "oci-layout", OCI_LAYOUT
    yield "index.json", index_json(image, ref_name)
    for digest in sorted(image.blobs):
        algorithm, _, hexdigest = digest.partition(":")
        yield f"blobs/{algorithm}/{hexdigest}", image.blobs[digest].data


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _linked(existing: Path, data: bytes, target: Path) -> bool:
    """Hard-link ``existing`` at ``target`` when it holds exactly ``data`` (it was fsynced
    when written); False when it does not, or cannot be linked."""
    if not same_bytes(existing, data):
        return False
    try:
        os.link(existing, target)
    except OSError:
        return False
    return True


def _holds_exactly(out_dir: Path, files: dict[str, bytes]) -> bool:
    """Whether the layout at ``out_dir`` is ``files``: no file more, none less, each the
    same bytes."""
    try:
        present = {
            str(Path(root, name).relative_to(out_dir))
            for root, _, names in os.walk(out_dir) for name in names
        }
    except OSError:
        return False
    return present == set(files) and all(
        same_bytes(out_dir / relative, data) for relative, data in files.items())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_layout(image: OciImage, out_dir: Path, ref_name: str = DEFAULT_REF) -> Path:
    """Write ``image`` as an OCI layout at ``out_dir``, replacing what was there on success."""
    out_dir = Path(out_dir).absolute()
    check_layout_dir(out_dir)
    files = dict(layout_files(image, ref_name))
    if _holds_exactly(out_dir, files):
        return out_dir
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise BuildError(f"{out_dir}: cannot create the layout: {e.strerror}") from e
    try:
        for relative, data in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if not (relative.startswith("blobs/") and _linked(out_dir / relative, data, target)):
                _write_synced(target, data)
        for directory in (staging / "blobs" / "sha256", staging / "blobs", staging):
            _fsync_dir(directory)
        staging.chmod(0o755)
        _swap_into_place(staging, out_dir)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"{out_dir}: cannot write the layout: {e.strerror or e}") from e
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(staging, out_dir)
        _fsync_dir(out_dir.parent)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.rename(out_dir, old / "layout")
    try:
        os.rename(staging, out_dir)
    except OSError:
        os.rename(old / "layout", out_dir)  # put the previous layout back
        old.rmdir()
        raise
    _fsync_dir(out_dir.parent)
    shutil.rmtree(old, ignore_errors=True)
