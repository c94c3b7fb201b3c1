"""``tctcb.data`` downloader against a local HTTP server (no network): fresh download, files already there,
resuming a ``.part`` with a Range request, wrong checksums, unreachable URLs, unknown names and the default
data directory. The catalog is swapped for small made-up files."""
import hashlib
import http.server
import io
import sys
import threading
from pathlib import Path

import pytest

from tctcb.data import _catalog
from tctcb.data._download import catalog_files, download, present
from tctcb.data._paths import DataError, data_dir, default_data_dir, require_file

BLOBS = {
    "corpus.bin": bytes(range(256)) * 300,  # 76,800 bytes: several read chunks
    "topics.txt": b"1\tfirst query\n2\tsecond query\n",
    "qrels.txt": b"1 0 d1 1\n2 0 d2 1\n",
}


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.root`` with single-range support; records every request; can ignore ranges or cut
    the first answer short to imitate a dropped connection."""

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        f = srv.root / self.path.lstrip("/")
        if not f.is_file():
            self.send_error(404)
            return
        data = f.read_bytes()
        rng = self.headers.get("Range")
        if rng and not srv.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:
            body, srv.cut_after = body[: srv.cut_after], None
        self.wfile.write(body)
        srv.sent += len(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    for name, blob in BLOBS.items():
        (root / name).write_bytes(blob)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.root, srv.requests, srv.ignore_range, srv.cut_after, srv.sent = root, [], False, None, 0
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(5)


def _entry(blob: bytes, url: str, **extra) -> dict:
    return {"bytes": len(blob), "md5": hashlib.md5(blob).hexdigest(), "url": url, **extra}


@pytest.fixture
def catalog(monkeypatch, server):
    """A catalog of one collection ``mini`` (one file) with topic set ``mini-test`` (two more files)."""
    files = {
        "mini/corpus.bin": _entry(BLOBS["corpus.bin"], f"{server.url}/corpus.bin"),
        "mini/topics.txt": _entry(BLOBS["topics.txt"], f"{server.url}/topics.txt"),
        "mini/qrels.txt": _entry(BLOBS["qrels.txt"], f"{server.url}/qrels.txt"),
    }
    monkeypatch.setattr(_catalog, "FILES", files)
    monkeypatch.setattr(_catalog, "COLLECTIONS", {"mini": {"files": ["mini/corpus.bin"], "topic_sets": ["mini-test"]}})
    monkeypatch.setattr(_catalog, "TOPIC_SETS", {"mini-test": {"collection": "mini",
                                                                "files": ["mini/topics.txt", "mini/qrels.txt"]}})
    monkeypatch.setattr(_catalog, "ALIASES", {"mini-alias": "mini-test"})
    return files


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*.part"))


def test_fresh_download_fetches_collection_and_its_topic_sets(catalog, server, tmp_path):
    out, log = tmp_path / "data", []
    paths = download(["mini"], data_dir=out, log=log.append)
    assert paths == [out / "mini/corpus.bin", out / "mini/topics.txt", out / "mini/qrels.txt"]
    assert (out / "mini/corpus.bin").read_bytes() == BLOBS["corpus.bin"]
    assert (out / "mini/qrels.txt").read_bytes() == BLOBS["qrels.txt"]
    assert sorted(p for p, _ in server.requests) == ["/corpus.bin", "/qrels.txt", "/topics.txt"]
    assert all(r is None for _, r in server.requests)  # nothing to resume: no Range header
    assert _leftovers(out) == [] and "OK mini/corpus.bin" in log
    assert present("mini", out) and present("mini-alias", out)


def test_topic_set_alone_and_everything(catalog, server, tmp_path):
    out = tmp_path / "data"
    paths = download(["mini-alias"], data_dir=out, log=lambda m: None)
    assert paths == [out / "mini/topics.txt", out / "mini/qrels.txt"]
    assert not (out / "mini/corpus.bin").exists() and not present("mini", out) and present("mini-test", out)
    assert len(download(None, data_dir=out, log=lambda m: None)) == 3 and present("mini", out)
    assert sorted(p for p, _ in server.requests) == ["/corpus.bin", "/qrels.txt", "/topics.txt"]  # each once


def test_present_files_are_not_fetched_again_but_wrong_ones_are(catalog, server, tmp_path):
    out = tmp_path / "data"
    download(["mini"], data_dir=out, log=lambda m: None)
    server.requests.clear()
    log = []
    download(["mini"], data_dir=out, log=log.append)
    assert server.requests == []
    assert log == ["OK mini/corpus.bin", "OK mini/topics.txt", "OK mini/qrels.txt"]
    (out / "mini/topics.txt").write_bytes(b"1\tfirst query\n2\tsecond quern\n")  # same size, other md5
    download(["mini"], data_dir=out, log=lambda m: None)
    assert server.requests == [("/topics.txt", None)]
    assert (out / "mini/topics.txt").read_bytes() == BLOBS["topics.txt"]


def test_resume_sends_range_and_appends(catalog, server, tmp_path):
    out = tmp_path / "data"
    (out / "mini").mkdir(parents=True)
    blob = BLOBS["corpus.bin"]
    (out / "mini/corpus.bin.part").write_bytes(blob[:1000])
    download(["mini"], data_dir=out, log=lambda m: None)
    assert ("/corpus.bin", "bytes=1000-") in server.requests
    assert server.sent == len(blob) - 1000 + len(BLOBS["topics.txt"]) + len(BLOBS["qrels.txt"])
    assert (out / "mini/corpus.bin").read_bytes() == blob and _leftovers(out) == []


def test_server_ignoring_range_restarts_from_zero(catalog, server, tmp_path):
    out = tmp_path / "data"
    (out / "mini").mkdir(parents=True)
    (out / "mini/corpus.bin.part").write_bytes(b"x" * 1000)  # appending to this would give a wrong file
    server.ignore_range = True
    download(["mini"], data_dir=out, log=lambda m: None)
    assert ("/corpus.bin", "bytes=1000-") in server.requests
    assert (out / "mini/corpus.bin").read_bytes() == BLOBS["corpus.bin"]


def test_dropped_connection_keeps_part_and_next_run_resumes(catalog, server, tmp_path):
    out = tmp_path / "data"
    server.cut_after = 5000
    with pytest.raises(DataError) as e:
        download(["mini"], data_dir=out, log=lambda m: None)
    assert "\n" not in str(e.value) and f"{server.url}/corpus.bin" in str(e.value)
    assert not (out / "mini/corpus.bin").exists()
    assert (out / "mini/corpus.bin.part").read_bytes() == BLOBS["corpus.bin"][:5000]
    download(["mini"], data_dir=out, log=lambda m: None)
    assert server.requests[-3][1] == "bytes=5000-"
    assert (out / "mini/corpus.bin").read_bytes() == BLOBS["corpus.bin"] and _leftovers(out) == []


def test_checksum_mismatch_leaves_nothing_and_names_url_md5_and_path(catalog, server, tmp_path):
    out = tmp_path / "data"
    catalog["mini/qrels.txt"]["md5"] = "0" * 32
    with pytest.raises(DataError) as e:
        download(["mini-test"], data_dir=out, log=lambda m: None)
    msg = str(e.value)
    assert "\n" not in msg and f"{server.url}/qrels.txt" in msg and "0" * 32 in msg
    assert str(out / "mini/qrels.txt") in msg and "by hand" in msg
    assert not (out / "mini/qrels.txt").exists() and _leftovers(out) == []
    assert (out / "mini/topics.txt").read_bytes() == BLOBS["topics.txt"]  # the good file before it is kept


def test_wrong_size_is_a_mismatch_too(catalog, server, tmp_path):
    out = tmp_path / "data"
    catalog["mini/topics.txt"]["bytes"] += 1  # the server has one byte less than the catalog says
    with pytest.raises(DataError, match="expected"):
        download(["mini-test"], data_dir=out, log=lambda m: None)
    assert not (out / "mini/topics.txt").exists() and _leftovers(out) == []


def test_unreachable_url_says_where_to_place_the_file(catalog, tmp_path):
    out = tmp_path / "data"
    catalog["mini/corpus.bin"].update(url="http://127.0.0.1:1/corpus.bin", see_also="https://example.org/mini.zip")
    with pytest.raises(DataError) as e:
        download(["mini"], data_dir=out, log=lambda m: None)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("cannot download http://127.0.0.1:1/corpus.bin (")
    assert f"place the file at {out / 'mini/corpus.bin'} by hand (md5 {catalog['mini/corpus.bin']['md5']})" in msg
    assert "https://example.org/mini.zip" in msg
    assert not (out / "mini/corpus.bin").exists() and _leftovers(out) == []


def test_http_404_and_injected_urlopen(catalog, server, tmp_path):
    catalog["mini/topics.txt"]["url"] = f"{server.url}/nope.txt"
    with pytest.raises(DataError, match=r"cannot download .*/nope\.txt \(HTTP 404 .*by hand"):
        download(["mini-test"], data_dir=tmp_path / "a", log=lambda m: None)
    calls = []

    def offline(req, timeout):
        calls.append(req.full_url)
        raise TimeoutError("timed out")

    with pytest.raises(DataError, match=r"\(timed out\): place the file at"):
        download(["mini-test"], data_dir=tmp_path / "b", log=lambda m: None, urlopen=offline)
    assert calls == [f"{server.url}/nope.txt"]


def test_unknown_name_lists_known_ones(catalog, tmp_path):
    with pytest.raises(DataError, match=r"unknown collection or topic set 'nope'; known: mini, mini-alias, mini-test"):
        download(["mini", "nope"], data_dir=tmp_path / "data", log=lambda m: None)
    with pytest.raises(DataError, match="unknown"):
        present("nope", tmp_path / "data")
    assert not (tmp_path / "data").exists()  # names are checked before anything is written
    assert catalog_files("mini-test") == ["mini/topics.txt", "mini/qrels.txt"]


def test_default_data_dir_when_variable_unset(catalog, server, tmp_path, monkeypatch):
    monkeypatch.delenv("TCTCB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    default = tmp_path / "xdg" / "tctcb" / "data"
    assert default_data_dir() == default
    with pytest.raises(DataError) as e:
        data_dir()
    assert "\n" not in str(e.value) and "python -m tctcb.data download" in str(e.value) and str(default) in str(e.value)
    assert not present("mini")
    paths = download(["mini"], log=lambda m: None)
    assert paths[0] == default / "mini/corpus.bin" and paths[0].read_bytes() == BLOBS["corpus.bin"]
    assert data_dir() == default and present("mini")
    monkeypatch.setenv("TCTCB_DATA", str(tmp_path / "elsewhere"))  # the variable wins over the default
    with pytest.raises(DataError, match="does not exist"):
        data_dir()
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "tctcb" / "data"


def test_variable_is_the_download_target(catalog, server, tmp_path, monkeypatch):
    monkeypatch.setenv("TCTCB_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    download(["mini-test"], log=lambda m: None)
    assert (tmp_path / "env/mini/qrels.txt").is_file() and not (tmp_path / "xdg").exists()


def test_require_file_points_at_download(tmp_path):
    with pytest.raises(DataError) as e:
        require_file(tmp_path / "adi" / "adi.tar.gz")
    msg = str(e.value)
    assert msg.startswith(f"missing data file {tmp_path / 'adi' / 'adi.tar.gz'}: run 'python -m tctcb.data download adi'")
    assert "TCTCB_DATA" in msg and "\n" not in msg


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(catalog, server, tmp_path, monkeypatch):
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    download(["mini"], data_dir=tmp_path / "a", log=lambda m: None)
    assert quiet.getvalue() == ""
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    download(["mini"], data_dir=tmp_path / "b", log=lambda m: None)
    assert "corpus.bin" in tty.getvalue()
