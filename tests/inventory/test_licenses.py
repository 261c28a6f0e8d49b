"""DEP-5 copyright files → SPDX license expressions."""

from __future__ import annotations

import pytest

from zerocve.inventory.licenses import conjunction, copyright_licenses, dep5_expression


@pytest.mark.parametrize(
    ("short", "spdx"),
    [
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("GPLv3+", "GPL-3.0-or-later"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("LGPL-2", "LGPL-2.0-only"),
        ("AGPL-3", "AGPL-3.0-only"),
        ("GFDL-1.3+", "GFDL-1.3-or-later"),
        ("Expat", "MIT"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("bsd-2-clause", "BSD-2-Clause"),
        ("Apache-2", "Apache-2.0"),
        ("Apache-2.0", "Apache-2.0"),
        ("MPL-1.1+", "LicenseRef-MPL-1.1-or-later"),
        ("Zlib", "Zlib"),
        ("public-domain", "LicenseRef-public-domain"),
        ("GPL", "LicenseRef-GPL"),
        ("Artistic", "LicenseRef-Artistic"),
        ("LGPLv3+_or_GPLv2+", "LicenseRef-LGPLv3--or-GPLv2-or-later"),
        ("GPL-1+ or Artistic", "GPL-1.0-or-later OR LicenseRef-Artistic"),
        ("LGPL-3+ or GPL-2+", "LGPL-3.0-or-later OR GPL-2.0-or-later"),
        ("MIT and BSD-3-clause or GPL-2", "MIT AND BSD-3-Clause OR GPL-2.0-only"),
        # DEP-5: a comma closes the group before it.
        ("BSD-3-clause or GPL-2, and MIT", "(BSD-3-Clause OR GPL-2.0-only) AND MIT"),
        ("GPL-2+ with Autoconf exception", "GPL-2.0-or-later WITH Autoconf-exception-2.0"),
        ("GPL-3+ with Autoconf exception", "GPL-3.0-or-later WITH Autoconf-exception-3.0"),
        ("GPL-3+ with Bison exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
        ("GPL-2 with Linux-syscall-note exception", "GPL-2.0-only WITH Linux-syscall-note"),
        ("GPL-2+ with Font exception", "GPL-2.0-or-later WITH Font-exception-2.0"),
        ("GPL-2+ with Foo exception", "LicenseRef-GPL-2--with-foo-exception"),
        ("Permission is hereby granted, free of charge", None),
        ("", None),
    ],
)
def test_dep5_expression(short: str, spdx: str | None) -> None:
    assert dep5_expression(short) == spdx


DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: example
Source: https://example.invalid

Files: *
Copyright: 2020 Someone
License: GPL-2+
 This program is free software; you can redistribute it and/or modify
 it under the terms of the GNU General Public License.

Files: lib/*
Copyright: 2020 Someone Else
License: Expat

Files: debian/*
Copyright: 2021 Debian packager
License: GPL-2+

License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software...

License: Unused-License
 A stand-alone license paragraph only holds text: it does not apply by itself.
"""


def test_copyright_file_licenses_in_order_without_duplicates() -> None:
    assert copyright_licenses(DEP5) == ("GPL-2.0-or-later", "MIT")


def test_header_license_counts() -> None:
    text = DEP5.replace(
        "Source: https://example.invalid\n", "Source: https://example.invalid\nLicense: Zlib\n"
    )
    assert copyright_licenses(text) == ("Zlib", "GPL-2.0-or-later", "MIT")


def test_free_form_copyright_gives_nothing() -> None:
    text = "This package was debianized by someone.\n\nLicense: GPL-2+\n\nCopyright: 1999 Someone\n"
    assert copyright_licenses(text) == ()
    assert copyright_licenses("") == ()


def test_conjunction() -> None:
    assert conjunction(()) is None
    assert conjunction(("MIT",)) == "MIT"
    assert conjunction(("GPL-2.0-or-later", "MIT OR Apache-2.0")) == (
        "GPL-2.0-or-later AND (MIT OR Apache-2.0)"
    )


def test_every_mapped_id_is_on_the_spdx_list() -> None:
    """The table's SPDX ids and exceptions, checked against license-expression's copy of the
    SPDX license list (so a typo, or a DEP-5 name that SPDX spells differently, fails)."""
    from license_expression import get_spdx_licensing

    from zerocve.inventory import licenses

    spdx = get_spdx_licensing()
    ids = [*licenses._SPDX_IDS.values(), *licenses._ALIASES.values()]
    assert [i for i in ids if spdx.validate(i).errors] == []
    exceptions = [e for by_version in licenses._EXCEPTIONS.values() for e in by_version.values()]
    assert [e for e in exceptions if spdx.validate(f"GPL-2.0-only WITH {e}").errors] == []
