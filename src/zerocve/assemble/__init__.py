"""Lock + .debs -> OCI image (see ``image`` for the flow, ``rootfs`` for merged /usr and the
conflict rule, ``layers`` for the layering strategy, ``postinst`` for what maintainer scripts
would have made, ``cache`` for the build cache).

Public: ``build``, ``build_arch``, ``combine``, ``write_layout``, ``write_archive``,
``BuiltImage``, ``ArchImage``, ``BuildCache``.
"""

from zerocve.assemble.cache import BuildCache
from zerocve.assemble.image import (
    ArchImage,
    BuiltImage,
    build,
    build_arch,
    combine,
    write_archive,
    write_layout,
)

__all__ = [
    "ArchImage",
    "BuildCache",
    "BuiltImage",
    "build",
    "build_arch",
    "combine",
    "write_archive",
    "write_layout",
]
