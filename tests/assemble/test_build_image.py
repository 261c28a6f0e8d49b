"""Whole builds from real packages, checked with umoci, dpkg-query, skopeo and podman."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from zerocve.assemble import image as image_module
from zerocve.assemble import rootfs as rootfs_module
from zerocve.assemble.cache import BuildCache
from zerocve.assemble.image import (
    BuiltImage,
    build_arch,
    combine,
    write_archive,
    write_layout,
)
from zerocve.cache_seal import CacheSeal
from zerocve.debian.releases import DebianRelease
from zerocve.errors import BuildError
from zerocve.oci.gzip_blocks import BLOCK_SIZE
from zerocve.oci.image import MEDIA_INDEX
from zerocve.spec import ImageSpec, load_spec

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[2] / "examples"
EPOCH = 1_762_000_000
SEAL = CacheSeal(b"this machine\'s seal key, 32 byte")
STATIC = load_spec(EXAMPLES / "static.yaml").contents.packages
PYTHON = load_spec(EXAMPLES / "python.yaml").contents.packages


def _build(spec: ImageSpec, packages, arch: str = "amd64") -> BuiltImage:
    image = build_arch(spec, arch, packages, epoch=EPOCH,
                       release=DebianRelease("bookworm", "12"))
    return combine([image], spec, EPOCH)


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr}"
    return done.stdout


def _unpack(layout: Path, where: Path) -> Path:
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:latest", str(where))
    return where / "rootfs"


@pytest.fixture(scope="module")
def static(closure, tmp_path_factory: pytest.TempPathFactory):
    packages = closure(STATIC)
    spec = load_spec(EXAMPLES / "static.yaml")
    built = _build(spec, packages)
    out = write_layout(built, tmp_path_factory.mktemp("static") / "layout")
    rootfs = _unpack(out, tmp_path_factory.mktemp("static-unpacked") / "bundle")
    return packages, built, out, rootfs


def test_dpkg_query_lists_exactly_the_locked_packages(static) -> None:
    packages, _, _, rootfs = static
    out = _run("dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
               "-f", "${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n")
    expected = sorted(f"{p.name} {p.version} {p.architecture} ii " for p, _ in packages)
    assert sorted(out.splitlines()) == expected
    assert {p.name for p, _ in packages} >= set(STATIC)
    # the file lists work too: dpkg-query -S finds the owner of a shipped file
    owner = _run("dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-S", "/etc/services")
    assert owner.strip() == "netbase: /etc/services"
    # Multi-Arch: same packages' lists are found under name:arch (info/format says so)
    listed = subprocess.run(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-L", "libc6"],
                            capture_output=True, text=True, check=True)
    assert listed.stderr == ""
    assert "/lib/x86_64-linux-gnu/libc.so.6" in listed.stdout.splitlines()


def _layer_member(built: BuiltImage, index: int, path: str) -> tarfile.TarInfo:
    layer = built.archs[0].layers[index]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.data))) as tar:
        return tar.getmember(path)


def test_static_image_files(static) -> None:
    _, built, _, rootfs = static
    assert os.readlink(rootfs / "bin") == "usr/bin"
    assert os.readlink(rootfs / "lib") == "usr/lib"
    passwd = (rootfs / "etc/passwd").read_text()
    assert "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" in passwd
    home = _layer_member(built, -1, "home/nonroot")  # umoci --rootless does not chown
    assert (home.uid, home.gid, home.uname, home.mode) == (65532, 65532, "", 0o755)
    assert (rootfs / "tmp").stat().st_mode & 0o7777 == 0o1777
    bundle = (rootfs / "etc/ssl/certs/ca-certificates.crt").read_text()
    shipped = list((rootfs / "usr/share/ca-certificates/mozilla").glob("*.crt"))
    assert len(shipped) > 100
    assert bundle.count("-----BEGIN CERTIFICATE-----") == len(shipped)
    assert "ID=debian" in (rootfs / "etc/os-release").read_text()
    assert os.readlink(rootfs / "etc/localtime") == "/usr/share/zoneinfo/Etc/UTC"
    assert (rootfs / "etc/localtime").exists()


def test_ca_bundle_matches_update_ca_certificates(static, tmp_path: Path) -> None:
    """Run the package's own update-ca-certificates on its own files and compare."""
    _, _, _, rootfs = static
    script = (rootfs / "usr/sbin/update-ca-certificates").read_text()
    root = tmp_path / "root"
    for sub in ("etc/ssl/certs", "usr/local/share/ca-certificates", "etc/ca-certificates/update.d"):
        (root / sub).mkdir(parents=True)
    (root / "usr/share").mkdir(parents=True)
    os.symlink(rootfs / "usr/share/ca-certificates", root / "usr/share/ca-certificates")
    (root / "etc/ca-certificates.conf").write_bytes(
        (rootfs / "etc/ca-certificates.conf").read_bytes())
    patched = script.replace("/etc/", f"{root}/etc/").replace("/usr/", f"{root}/usr/")
    (tmp_path / "update").write_text(patched)
    _run("sh", str(tmp_path / "update"), "--hooksdir", "", "--fresh")
    assert (root / "etc/ssl/certs/ca-certificates.crt").read_bytes() == (
        rootfs / "etc/ssl/certs/ca-certificates.crt").read_bytes()


def test_skopeo_inspects_the_layout(static) -> None:
    _, built, out, _ = static
    info = json.loads(_run("skopeo", "inspect", f"oci:{out}"))
    assert info["Digest"] == built.digest
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    config = json.loads(_run("skopeo", "inspect", "--config", f"oci:{out}"))
    assert config["config"]["User"] == "65532:65532"
    assert config["created"] == "2025-11-01T12:26:40Z"
    assert len(config["rootfs"]["diff_ids"]) == len(info["Layers"])


def test_rebuild_is_byte_identical(static, closure, tmp_path: Path) -> None:
    packages, built, out, _ = static
    again = _build(load_spec(EXAMPLES / "static.yaml"), closure(STATIC))
    assert again.digest == built.digest
    second = write_layout(again, tmp_path / "layout")
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (second / f).read_bytes() for f in files)
    first_tar = write_archive(built, tmp_path / "a.tar")
    second_tar = write_archive(again, tmp_path / "b.tar")
    assert first_tar.read_bytes() == second_tar.read_bytes()
    info = json.loads(_run("skopeo", "inspect", f"oci-archive:{first_tar}"))
    assert info["Digest"] == built.digest


def test_image_bytes_do_not_depend_on_the_core_count(
    closure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Layers are written and their gzip blocks deflated on one thread per core: the python
    image (layers of many blocks) is the same, blob for blob, on one core or on five."""
    spec = load_spec(EXAMPLES / "python.yaml")
    built = {}
    for cores in (1, 5):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        built[cores] = _build(spec, closure(PYTHON))
    assert max(layer.size for layer in built[1].archs[0].layers) > 4 * BLOCK_SIZE
    assert built[1].digest == built[5].digest
    assert {d: b.data for d, b in built[1].image.blobs.items()} == {
        d: b.data for d, b in built[5].image.blobs.items()}


def test_one_package_update_changes_few_layers(static, closure) -> None:
    """Dropping a package (as an update would change it) leaves the other layers as they are."""
    packages, built, _, _ = static
    fewer = [(p, deb) for p, deb in packages if p.name != "netbase"]
    other = _build(load_spec(EXAMPLES / "static.yaml"), fewer)
    before = {layer.digest for layer in built.archs[0].layers}
    after = [layer.digest for layer in other.archs[0].layers]
    assert len([d for d in after if d not in before]) == 1  # only the metadata layer differs


def test_multi_arch_index(closure, tmp_path: Path) -> None:
    # tzdata, netbase and ca-certificates are Architecture: all: valid on both platforms
    packages = [(p, deb) for p, deb in closure(STATIC) if p.architecture == "all"]
    spec = load_spec(EXAMPLES / "static.yaml").model_copy(update={"archs": ["amd64", "arm64"]})
    images = [build_arch(spec, arch, packages, epoch=EPOCH) for arch in spec.archs]
    built = combine(images, spec, EPOCH)
    assert built.image.top.media_type == MEDIA_INDEX
    out = write_layout(built, tmp_path / "multi")
    index = json.loads(_run("skopeo", "inspect", "--raw", f"oci:{out}"))
    assert [m["platform"] for m in index["manifests"]] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"}]
    arm = json.loads(_run("skopeo", "--override-arch", "arm64", "--override-variant", "v8",
                          "inspect", f"oci:{out}"))
    assert arm["Architecture"] == "arm64"
    assert arm["Digest"] == built.digest  # skopeo names the index it was asked about
    assert arm["Layers"] == [layer.digest for layer in images[1].layers]


def test_python_image_runs_as_nonroot_in_podman(closure, tmp_path: Path) -> None:
    spec = load_spec(EXAMPLES / "python.yaml")
    built = _build(spec, closure(PYTHON))
    out = write_layout(built, tmp_path / "python")
    try:
        output = _run("podman", "run", "--rm", f"oci:{out}", "-c",
                      "import os, ssl; print(ssl.OPENSSL_VERSION); print(os.getuid(), "
                      "os.getcwd()); print(len(ssl.create_default_context().get_ca_certs()))")
    finally:  # podman stores the image under the layout's path; drop that name
        subprocess.run(["podman", "rmi", f"localhost{out}:latest"], capture_output=True,
                       check=False)
    app = _layer_member(built, -1, "app")  # spec paths: in the metadata layer
    assert (app.isdir(), app.uid, app.gid, app.mode) == (True, 65532, 65532, 0o755)
    version, ids, certs = output.splitlines()[-3:]
    assert version.startswith("OpenSSL 3.")
    assert ids == "65532 /app"
    assert int(certs) > 100


def test_build_cache_gives_the_same_image_without_rebuilding(
    closure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages = closure(PYTHON)
    spec = load_spec(EXAMPLES / "python.yaml")
    cold = build_arch(spec, "amd64", packages, epoch=EPOCH)
    cache = BuildCache(tmp_path / "cache", SEAL)
    first = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)

    def no_unpacking(*args: object, **kwargs: object) -> None:
        raise AssertionError("a no-change rebuild must not read .debs or make layers")

    with monkeypatch.context() as patch:  # speed is bench/build.py's job; here: no work
        patch.setattr(image_module, "make_layer", no_unpacking)
        patch.setattr(rootfs_module.DebReader, "__enter__", no_unpacking)
        second = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)
    assert cold.image.digest == first.image.digest == second.image.digest
    assert second.image.blobs.keys() == cold.image.blobs.keys()
    assert all(second.image.blobs[d].data == cold.image.blobs[d].data for d in cold.image.blobs)
    assert second.packages == cold.packages
    # A later lock date (after every package's files, as a real lock's is): new inputs, so
    # the image is built again, but the package layers come out identical (their mtimes are
    # not clamped) and are taken from the layer store instead of being compressed again.
    later = [build_arch(spec, "amd64", packages, epoch=2_000_000_000 + n, cache=cache)
             for n in (0, 1)]
    assert later[0].image.digest != later[1].image.digest
    assert [layer.digest for layer in later[0].layers[:-1]] == [
        layer.digest for layer in later[1].layers[:-1]]


def test_damaged_cache_entry_is_a_miss(closure, tmp_path: Path) -> None:
    packages = closure(STATIC)
    spec = load_spec(EXAMPLES / "static.yaml")
    cache = BuildCache(tmp_path / "cache", SEAL)
    first = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)
    for blob in (tmp_path / "cache/blobs/sha256").iterdir():
        blob.write_bytes(b"garbage")
    again = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)
    assert again.image.digest == first.image.digest
    assert all(again.image.blobs[d].digest == d for d in again.image.blobs)


def test_a_reference_this_machine_did_not_seal_is_a_miss(closure, tmp_path: Path) -> None:
    """Whoever writes the cache directory can point a build's key at another image's record
    (both blobs are genuine, so their digests check): the seal on the reference refuses it."""
    packages = closure(STATIC)
    spec = load_spec(EXAMPLES / "static.yaml")
    cache = BuildCache(tmp_path / "cache", SEAL)
    images = tmp_path / "cache/refs/images"
    first = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)
    (first_ref,) = images.iterdir()
    other = build_arch(spec, "amd64", packages, epoch=EPOCH + 1, cache=cache)
    (other_ref,) = set(images.iterdir()) - {first_ref}
    assert other.image.digest != first.image.digest
    first_ref.write_bytes(other_ref.read_bytes())
    assert build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache).image.digest == (
        first.image.digest)
    elsewhere = BuildCache(tmp_path / "cache", CacheSeal(b"another machine's key, 32 bytes!"))
    assert cache.image_record(other_ref.name) is not None
    assert elsewhere.image_record(other_ref.name) is None


def test_damaged_cache_reference_is_a_miss(closure, tmp_path: Path) -> None:
    packages = closure(STATIC)
    spec = load_spec(EXAMPLES / "static.yaml")
    cache = BuildCache(tmp_path / "cache", SEAL)
    first = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)
    refs = [p for p in (tmp_path / "cache/refs").rglob("*") if p.is_file()]
    assert refs
    for n, ref in enumerate(refs):  # torn, garbage and binary references
        ref.write_bytes([b"", b"not a digest", b"\xff\xfe"][n % 3])
    again = build_arch(spec, "amd64", packages, epoch=EPOCH, cache=cache)
    assert again.image.digest == first.image.digest


def test_metadata_is_worked_out_while_package_layers_are_written(
    closure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata layer's entries (dpkg status, SBOM, checks against every package) are
    worked out while the package layers are compressed, not before: here they wait for a
    package layer to be under way. An error there is still the one raised."""
    writing = threading.Event()
    real_make_layer, real_metadata = image_module.make_layer, image_module.metadata_entries

    def make_layer(entries, epoch, comment, *args):  # type: ignore[no-untyped-def]
        if comment.startswith("source "):
            writing.set()
        return real_make_layer(entries, epoch, comment, *args)

    waited: list[bool] = []

    def metadata_entries(*args):  # type: ignore[no-untyped-def]
        waited.append(writing.wait(30))
        return real_metadata(*args)

    monkeypatch.setattr(image_module, "make_layer", make_layer)
    monkeypatch.setattr(image_module, "metadata_entries", metadata_entries)
    spec = load_spec(EXAMPLES / "static.yaml")
    built = _build(spec, closure(STATIC))
    assert waited == [True], "the metadata was worked out before any package layer"
    monkeypatch.undo()
    assert built.digest == _build(spec, closure(STATIC)).digest

    def refused(*args):  # type: ignore[no-untyped-def]
        raise BuildError("the metadata's own error")

    monkeypatch.setattr(image_module, "metadata_entries", refused)
    with pytest.raises(BuildError, match="^the metadata's own error$"):
        _build(spec, closure(STATIC))
