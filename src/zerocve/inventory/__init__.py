"""What is installed in a target (image, archive, registry reference, root filesystem, SBOM)."""
