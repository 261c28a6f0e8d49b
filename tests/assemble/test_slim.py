"""Smaller by default (issue 10.6): documentation, manuals, info and lintian overrides are left
out of the python example as dpkg's path-exclude leaves them out, copyright files stay, and
the dpkg database, the SBOM and the scanner stay truthful. Checked with real dpkg."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from zerocve.assemble.cache import BuildCache
from zerocve.assemble.image import BuiltImage, build_arch, combine, write_layout
from zerocve.cache_seal import CacheSeal
from zerocve.debian.releases import DebianRelease
from zerocve.inventory.targets import open_inventory
from zerocve.path_filter import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from zerocve.sbom.embedded import EMBEDDED_SBOM
from zerocve.spec import ImageSpec, load_spec

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[2] / "examples"
EPOCH = 1_762_000_000
SEAL = CacheSeal(b"this machine\'s seal key, 32 byte")
SPEC = load_spec(EXAMPLES / "python.yaml")
LEFT_OUT_DIRS = ("usr/share/man", "usr/share/info", "usr/share/lintian")


def _with_files(spec: ImageSpec, files: dict[str, list[str]]) -> ImageSpec:
    document = spec.model_dump(mode="json", by_alias=True)
    document["contents"]["files"] = files
    return ImageSpec.model_validate(document)


def _build(spec: ImageSpec, packages, cache: BuildCache | None = None) -> BuiltImage:
    image = build_arch(spec, "amd64", packages, epoch=EPOCH,
                       release=DebianRelease("bookworm", "12"), cache=cache)
    return combine([image], spec, EPOCH)


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr}"
    return done.stdout


def _unpacked(built: BuiltImage, where: Path) -> Path:
    layout = write_layout(built, where / "layout")
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:latest", str(where / "bundle"))
    return where / "bundle" / "rootfs"


def _shipped(deb: Path) -> list[str]:
    """Every path of the .deb's data archive, as dpkg names it (``/usr/bin/x``)."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = [os.path.normpath("/" + m.name) for m in tar.getmembers()]
    return [n for n in names if n != "/"]


def _has_preinst(deb: Path) -> bool:
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(control)) as tar:
        return any(m.name.removeprefix("./") == "preinst" for m in tar.getmembers())


@pytest.fixture(scope="module")
def python(closure, tmp_path_factory: pytest.TempPathFactory):
    packages = closure(SPEC.contents.packages)
    built = _build(SPEC, packages)
    rootfs = _unpacked(built, tmp_path_factory.mktemp("slim"))
    return packages, built, rootfs


def _listed(rootfs: Path, name: str) -> list[str]:
    out = _run("dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-L", name)
    return [line for line in out.splitlines() if line and line != "/."]


def test_left_out_exactly_what_dpkg_path_exclude_leaves_out(python, tmp_path: Path) -> None:
    """Real dpkg unpacks the same .debs with the same path-exclude/path-include options; for
    every path each package ships, dpkg laid it down exactly when zerocve's image lists it."""
    packages, _, rootfs = python
    # Only packages without a preinst: dpkg --unpack would run it, outside any chroot here.
    debs = {p.name: deb for p, deb in packages if not _has_preinst(deb)}
    assert len(debs) > 20 and {"libpython3.11-stdlib", "python3.11"} <= set(debs)
    root = tmp_path / "dpkg-root"
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    filters = [f"--path-exclude={p}" for p in DEFAULT_EXCLUDE]
    filters += [f"--path-include={p}" for p in DEFAULT_INCLUDE]
    _run("dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
         "--no-triggers", *filters, "--unpack", *map(str, debs.values()))
    left_out = 0
    for name, deb in debs.items():
        listed = set(_listed(rootfs, name))
        for path in _shipped(deb):
            # dpkg --unpack leaves a conffile as .dpkg-new until it configures the package
            by_dpkg = os.path.lexists(f"{root}{path}") or os.path.lexists(
                f"{root}{path}.dpkg-new")
            assert by_dpkg == (path in listed), f"{name}: {path}: dpkg {by_dpkg}"
            left_out += not by_dpkg
    assert left_out > 300  # 413 paths of these packages


def test_dpkg_verify_is_clean_and_every_listed_path_exists(python) -> None:
    packages, _, rootfs = python
    assert _run("dpkg", f"--root={rootfs}", "--verify") == ""
    for package, _ in packages:
        key = f"{package.name}:{package.architecture}"
        for path in _listed(rootfs, key):
            assert os.path.lexists(f"{rootfs}{path}"), f"{key}: {path} listed, not there"
    # dpkg-query (as syft and trivy read the status file) still sees every package
    out = _run("dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
               "-f", "${Package} ${Version} ${db:Status-Abbrev}\n")
    assert sorted(out.splitlines()) == sorted(f"{p.name} {p.version} ii " for p, _ in packages)
    scanned = open_inventory(str(rootfs))
    assert {p.name for p in scanned.packages} == {p.name for p, _ in packages}
    assert scanned.distro is not None


def test_documentation_left_out_copyrights_kept(python) -> None:
    packages, _, rootfs = python
    for directory in LEFT_OUT_DIRS:
        left = [p for p in (rootfs / directory).rglob("*") if not p.is_dir()]
        assert left == [], directory
    docs = rootfs / "usr/share/doc"
    files = [p for p in docs.rglob("*") if not p.is_dir() and not p.is_symlink()]
    assert files and all(p.name == "copyright" for p in files)
    for package, deb in packages:
        if f"/usr/share/doc/{package.name}/copyright" in _shipped(deb):
            assert (docs / package.name / "copyright").is_file(), package.name


def test_keep_everything_and_the_cache_key_follows_the_filter(python, tmp_path: Path) -> None:
    packages, slim, _ = python
    cache = BuildCache(tmp_path / "cache", SEAL)
    assert _build(SPEC, packages, cache).digest == slim.digest
    everything = _build(_with_files(SPEC, {"exclude": []}), packages, cache)
    assert everything.digest != slim.digest  # not the cached slim image
    rootfs = _unpacked(everything, tmp_path / "all")
    assert (rootfs / "usr/share/man/man1/python3.11.1.gz").is_file()
    assert (rootfs / "usr/share/doc/libc6/changelog.Debian.gz").is_file()
    assert _run("dpkg", f"--root={rootfs}", "--verify") == ""

    def size(built: BuiltImage) -> int:
        return sum(len(layer.data) for layer in built.archs[0].layers)

    assert size(slim) < size(everything)
    # the embedded SBOM names the same packages and licenses either way
    def sbom(built: BuiltImage, where: Path) -> dict[str, object]:
        root = _unpacked(built, where) if built is not everything else rootfs
        document = json.loads((root / EMBEDDED_SBOM).read_text())
        return {p["name"]: p.get("licenseDeclared") for p in document["packages"]}

    licenses = sbom(slim, tmp_path / "slim")
    assert licenses == sbom(everything, tmp_path / "unused")
    assert sum(value not in (None, "NOASSERTION") for value in licenses.values()) > 10
