"""Spec fields that become paths, file lines or tar headers are confined at load time: each
attack below was once accepted (or crashed) and is now one line naming the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from zerocve.errors import SpecError
from zerocve.spec import parse_spec

BASE = "contents: {packages: [netbase]}\n"
USER = "accounts: {groups: [{groupname: app, gid: 10}], users: [%s]}"

ATTACKS = {
    "home-climbs-out": (
        USER % "{username: app, uid: 10, gid: 10, home: /home/../../../tmp/x}",
        "accounts.users[0].home: must be an absolute, normalised path",
    ),
    "home-relative": (
        USER % "{username: app, uid: 10, gid: 10, home: home/app}",
        "accounts.users[0].home: must be an absolute",
    ),
    "username-injects-passwd-line": (
        USER % '{username: "x:x:0:0::/:/bin/sh\\nevil", uid: 10, gid: 10}',
        "accounts.users[0].username: 'x:x:0:0::/:/bin/sh\\nevil' is not a user or group name",
    ),
    "groupname-with-colon": (
        "accounts: {groups: [{groupname: 'adm:x:0:', gid: 10}]}",
        "accounts.groups[0].groupname: 'adm:x:0:' is not a user or group name",
    ),
    "shell-injects-passwd-line": (
        USER % '{username: app, uid: 10, gid: 10, shell: "/bin/sh\\nroot2:x:0:0::/:/bin/sh"}',
        "accounts.users[0].shell: must not contain NUL, a newline",
    ),
    "shell-with-colon": (
        USER % '{username: app, uid: 10, gid: 10, shell: "/bin/sh:x"}',
        "accounts.users[0].shell: '/bin/sh:x' must not contain ':'",
    ),
    "uid-10-to-the-20": (
        USER % "{username: app, uid: 100000000000000000000, gid: 10}",
        "accounts.users[0].uid: Input should be less than or equal to 4294967294",
    ),
    "uid-2-to-the-32": (
        USER % "{username: app, uid: 4294967296, gid: 10}",
        "accounts.users[0].uid: Input should be less than or equal to 4294967294",
    ),
    "uid-minus-one": (
        USER % "{username: app, uid: 4294967295, gid: 10}",
        "accounts.users[0].uid: Input should be less than or equal to 4294967294",
    ),
    "gid-negative": (
        "accounts: {groups: [{groupname: app, gid: -1}]}",
        "accounts.groups[0].gid: Input should be greater than or equal to 0",
    ),
    "root-made-0777": (
        "paths: [{path: /, permissions: 0o777}]",
        "paths[0].path: must not be '/'",
    ),
    "root-spelled-dot": (
        "paths: [{path: /., permissions: 0o777}]",
        "paths[0].path: must be an absolute, normalised path",
    ),
    "path-double-slash": (
        "paths: [{path: //etc, permissions: 0o777}]",
        "paths[0].path: must be an absolute, normalised path",
    ),
    "path-with-newline": (
        'paths: [{path: "/app\\n", type: empty-file}]',
        "paths[0].path: must not contain NUL, a newline",
    ),
    "mode-above-7777": (
        "paths: [{path: /app, permissions: 0o17777}]",
        "paths[0].permissions: mode 0o17777 is not in 0o0..0o7777",
    ),
    "mode-decimal-huge": (
        "paths: [{path: /app, permissions: 99999999999}]",
        "paths[0].permissions: mode",
    ),
    "path-uid-huge": (
        "paths: [{path: /app, uid: 4294967296}]",
        "paths[0].uid: Input should be less than or equal to 4294967294",
    ),
    "symlink-then-file-below": (
        "paths: [{path: /app, type: symlink, source: /etc},"
        " {path: /app/passwd, type: empty-file}]",
        "paths[1].path: /app/passwd lies below /app, which paths[0] makes a non-directory",
    ),
    "file-then-directory-below": (
        "paths: [{path: /app, type: empty-file}, {path: /app/sub}]",
        "paths[1].path: /app/sub lies below /app, which paths[0] makes a non-directory",
    ),
    "home-below-paths-symlink": (
        "paths: [{path: /home, type: symlink, source: /etc}]\n"
        + USER % "{username: app, uid: 10, gid: 10, home: /home/app}",
        "accounts.users[0].home: /home/app lies below /home, which paths[0] makes",
    ),
    "symlink-without-target": (
        "paths: [{path: /app, type: symlink}]",
        "paths[0]: 'source' (the link target) is given for symlinks, and only them",
    ),
    "symlink-target-newline": (
        'paths: [{path: /app, type: symlink, source: "/etc\\n"}]',
        "paths[0].source: must not contain NUL, a newline",
    ),
    "env-key-with-equals": (
        "environment: {'LD_PRELOAD=/tmp/x.so PATH': x}",
        "environment.LD_PRELOAD=/tmp/x.so PATH: 'LD_PRELOAD=/tmp/x.so PATH' is not an "
        "environment variable name",
    ),
    "env-key-empty": (
        "environment: {'': x}",
        "environment.: '' is not an environment variable name (empty, or has '=')",
    ),
    "env-value-newline": (
        'environment: {A: "1\\nB=2"}',
        "environment.A: must not contain NUL, a newline",
    ),
    "work-dir-relative": ("work-dir: app", "work-dir: must be an absolute"),
    "work-dir-climbs": ("work-dir: /app/../..", "work-dir: must be an absolute, normalised"),
    "cmd-unbalanced-quote": ("cmd: 'python3 -c \"print(1)'", "cmd: 'python3 -c \"print(1)' "
                             "does not split into words: No closing quotation"),
    "entrypoint-unbalanced-quote": ("entrypoint: {command: \"/bin/sh 'x\"}",
                                    "entrypoint.command: \"/bin/sh 'x\" does not split"),
    "suite-climbs-out": (
        "contents: {packages: [netbase], repositories: "
        "[{uri: 'file:///srv/repo', suites: ['../../../tmp/evil'], keyring: /k.gpg}]}",
        "contents.repositories[0].suites[0]: '../../../tmp/evil' is not a suite",
    ),
    "component-climbs-out": (
        "contents: {packages: [netbase], repositories: "
        "[{uri: 'file:///srv/repo', suites: [bookworm], components: [main/../..],"
        " keyring: /k.gpg}]}",
        "contents.repositories[0].components[0]: 'main/../..' is not a suite",
    ),
    # contents.files: dpkg-style path-exclude/path-include globs
    "files-relative-pattern": (
        "contents: {packages: [netbase], files: {exclude: [usr/share/doc/*]}}",
        "contents.files.exclude[0]: 'usr/share/doc/*' must start with '/'",
    ),
    "files-pattern-climbs-out": (
        "contents: {packages: [netbase], files: {include: [/usr/share/doc/../../etc/*]}}",
        "contents.files.include[0]: '/usr/share/doc/../../etc/*' must be a normalised path",
    ),
    "files-pattern-trailing-slash": (
        "contents: {packages: [netbase], files: {exclude: [/usr/share/doc/]}}",
        "contents.files.exclude[0]: '/usr/share/doc/' must be a normalised path",
    ),
    "files-pattern-newline": (
        'contents: {packages: [netbase], files: {exclude: ["/usr/share/doc/*\\n/etc"]}}',
        "contents.files.exclude[0]: '/usr/share/doc/*\\n/etc'... must be one line",
    ),
    "files-pattern-escape-read-differently": (
        "contents: {packages: [netbase], files: {exclude: ['/usr/share/doc/\\*']}}",
        "contents.files.exclude[0]: '/usr/share/doc/\\\\*': '\\' and '[^' are not supported",
    ),
    "files-pattern-caret-class": (
        "contents: {packages: [netbase], files: {exclude: ['/usr/[^s]*']}}",
        "contents.files.exclude[0]: '/usr/[^s]*': '\\' and '[^' are not supported",
    ),
    "files-pattern-huge": (
        "contents: {packages: [netbase], files: {exclude: [/" + "a" * 5000 + "]}}",
        "contents.files.exclude[0]: '/aaaa",
    ),
    "files-too-many-patterns": (
        "contents: {packages: [netbase], files: {exclude: ["
        + ", ".join(f"/x{i}" for i in range(257)) + "]}}",
        "contents.files.exclude: List should have at most 256 items",
    ),
    "files-hide-os-release": (
        "contents: {packages: [netbase], files: {exclude: ['/etc/*']}}",
        "contents.files: would leave out /etc/os-release, which the image's own metadata",
    ),
    "files-hide-usr-lib-os-release": (
        "contents: {packages: [netbase], files: {exclude: ['/usr/lib/*']}}",
        "contents.files: would leave out /usr/lib/os-release",
    ),
    "files-hide-debian-version-with-question-marks": (
        "contents: {packages: [netbase], files: {exclude: ['/etc/debian_versio?']}}",
        "contents.files: would leave out /etc/debian_version",
    ),
}


@pytest.mark.parametrize(("attack", "expected"), list(ATTACKS.values()), ids=list(ATTACKS))
def test_attack_is_one_line_naming_the_field(attack: str, expected: str) -> None:
    text = attack if attack.startswith("contents") else BASE + attack
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "evil.yaml")
    line = caught.value.diagnostics()
    assert "\n" not in line
    assert line.startswith(f"evil.yaml: {expected}"), line


def test_sane_values_at_the_limits_are_kept() -> None:
    spec = parse_spec(
        BASE
        + "accounts: {groups: [{groupname: _svc-1.x, gid: 4294967294}],"
        " users: [{username: _svc-1.x$, uid: 0, gid: 4294967294, home: /srv/a b,"
        " shell: /bin/sh}]}\n"
        "paths: [{path: /srv/app, permissions: 0o7777, uid: 4294967294},"
        " {path: /srv/app/link, type: symlink, source: ../../etc/hosts}]\n"
        "environment: {'PATH': '/usr/bin:/bin', 'weird.name-ok': 'a=b'}\n"
        "work-dir: /srv/app\ncmd: \"python3 -c 'print(1)'\"\n"
    )
    assert spec.accounts.users[0].uid == 0 and spec.paths[0].permissions == 0o7777
    assert spec.environment["weird.name-ok"] == "a=b"
    kept = parse_spec(BASE.replace("]}", "], files: {exclude: ['/etc/ssl/*', '/usr/share/*'],"
                                   " include: ['/etc/ssl/certs/*']}}"))
    assert kept.contents.files.exclude == ["/etc/ssl/*", "/usr/share/*"]


def test_cli_refuses_with_exit_3_and_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "evil.yaml"
    spec.write_text(yaml.safe_dump({
        "contents": {"packages": ["netbase"]},
        "accounts": {"groups": [{"groupname": "app", "gid": 10}],
                     "users": [{"username": "app\nroot2:x:0:0:", "uid": 10, "gid": 10}]},
    }))
    done = subprocess.run([sys.executable, "-m", "zerocve", "lock", str(spec)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: {spec}: accounts.users[0].username: 'app\\nroot2:x:0:0:' is not a user or "
        "group name useradd accepts ([a-z_][a-z0-9_.-]*, at most 32 characters)"
    ]
    assert not (tmp_path / "evil.lock.json").exists()
