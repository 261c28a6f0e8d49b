"""Write an image as an ``oci-archive``: a deterministic tar of its OCI image layout.

The tar holds the same files as ``layout.write_layout`` (``oci-layout``, ``index.json``,
``blobs/sha256/...``) plus their directories, owned by 0:0 with mtimes at the build's epoch,
so the same image always gives the same archive bytes. It is written to a temporary file
beside the target, fsynced and renamed: a failed write leaves the target untouched, and only
an earlier oci-archive is ever replaced (``zerocve.outputs``).
"""

from __future__ import annotations

from pathlib import Path

from zerocve.errors import BuildError
from zerocve.oci.image import OciImage
from zerocve.oci.layer import Entry, EntryKind, tar_bytes
from zerocve.oci.layout import DEFAULT_REF, layout_files
from zerocve.outputs import OutputKind, check_file, write_file


def archive_bytes(image: OciImage, epoch: int, ref_name: str = DEFAULT_REF) -> bytes:
    entries = [
        Entry(path, EntryKind.DIR, 0o755, mtime=epoch) for path in ("blobs", "blobs/sha256")
    ]
    entries += [
        Entry(path, EntryKind.FILE, 0o644, mtime=epoch, data=data)
        for path, data in layout_files(image, ref_name)
    ]
    return tar_bytes(entries, epoch)


def write_archive(
    image: OciImage, tar_path: Path, epoch: int, ref_name: str = DEFAULT_REF
) -> Path:
    """Write ``image`` as an oci-archive at ``tar_path``, replacing it only on success."""
    tar_path = Path(tar_path).absolute()
    check_file(tar_path, OutputKind.OCI_ARCHIVE)  # before the work of making the bytes
    data = archive_bytes(image, epoch, ref_name)
    try:
        tar_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildError(f"{tar_path}: cannot create the archive: {e.strerror}") from e
    write_file(tar_path, data, OutputKind.OCI_ARCHIVE, error=BuildError,
               what="cannot write the archive")
    return tar_path
