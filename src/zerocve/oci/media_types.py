"""OCI and Docker media types and annotation keys: the names every image reader and writer
agrees on, in one module with no imports (scans must not load the registry client)."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
IMAGE_CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
MANIFEST_MEDIA_TYPES = (*MANIFEST_TYPES, *INDEX_TYPES)  # what a registry GET should accept

# The largest manifest or index read (containerd and distribution refuse larger ones too).
MAX_MANIFEST = 4 << 20

ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_REF = "latest"  # the ref name a layout or archive gets when none is asked for
