import pytest

from hftlab import mirror

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_picks_bookworm_main():
    assert mirror.parse_deb822(DEB822) == ["http://mirror.example/debian"]


def test_deb822_skips_disabled_and_deb_src():
    text = (
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\n"
        "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n"
    )
    assert mirror.parse_deb822(text) == []


def test_one_line_with_options_and_comments():
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/x.gpg] http://one.example/debian bookworm main contrib\n"
        "deb http://other.example/debian bookworm-backports main\n"
        "deb http://nomain.example/debian bookworm contrib\n"
    )
    assert mirror.parse_one_line(text) == ["http://one.example/debian"]


def test_find_mirror_reads_tree(tmp_path, monkeypatch):
    monkeypatch.delenv("HFTLAB_MIRROR", raising=False)
    d = tmp_path / "etc/apt/sources.list.d"
    d.mkdir(parents=True)
    (d / "debian.sources").write_text(DEB822)
    (d / "google.list").write_text("deb https://packages.example/apt cloud-sdk main\n")
    assert mirror.find_mirror(str(tmp_path)) == "http://mirror.example/debian"


def test_find_mirror_one_line_file_first(tmp_path, monkeypatch):
    monkeypatch.delenv("HFTLAB_MIRROR", raising=False)
    (tmp_path / "etc/apt").mkdir(parents=True)
    (tmp_path / "etc/apt/sources.list").write_text("deb http://list.example/debian/ bookworm main\n")
    assert mirror.find_mirror(str(tmp_path)) == "http://list.example/debian"


def test_find_mirror_missing_is_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("HFTLAB_MIRROR", raising=False)
    (tmp_path / "etc/apt").mkdir(parents=True)
    with pytest.raises(mirror.MirrorNotFound, match="bookworm main"):
        mirror.find_mirror(str(tmp_path))


def test_env_override(monkeypatch):
    monkeypatch.setenv("HFTLAB_MIRROR", "http://env.example/debian/")
    assert mirror.find_mirror("/nonexistent") == "http://env.example/debian"
