import hashlib
import random

import pytest

from noisecraft.data.download import download, download_first
from noisecraft.errors import DataError

DATA = random.Random(0).randbytes(200_000)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def served(file_server):
    file_server.files["/f.bin"] = DATA
    return file_server


def test_normal_download_verifies_and_leaves_no_part(served, tmp_path):
    dest = download(served.url("/f.bin"), tmp_path / "sub" / "f.bin", sha256=SHA)
    assert dest.read_bytes() == DATA
    assert not (tmp_path / "sub" / "f.bin.part").exists()
    assert served.requests == [("/f.bin", None)]


def test_truncated_response_is_resumed_with_range(served, tmp_path):
    served.modes["/f.bin"] = "truncate_once"
    dest = download(served.url("/f.bin"), tmp_path / "f.bin", sha256=SHA)
    assert dest.read_bytes() == DATA
    assert served.requests == [("/f.bin", None), ("/f.bin", f"bytes={len(DATA) // 2}-")]


def test_gives_up_after_retries_and_keeps_part_for_later(served, tmp_path):
    served.modes["/f.bin"] = "truncate_always"
    with pytest.raises(DataError, match=r"f\.bin: download failed after 2 attempts"):
        download(served.url("/f.bin"), tmp_path / "f.bin", retries=1)
    assert len(served.requests) == 2
    assert not (tmp_path / "f.bin").exists()
    served.modes["/f.bin"] = "normal"
    assert download(served.url("/f.bin"), tmp_path / "f.bin", sha256=SHA).read_bytes() == DATA
    assert served.requests[-1][1] == f"bytes={len(DATA) // 2 + len(DATA) // 4}-"


def test_checksum_mismatch_names_both_hashes_and_deletes(served, tmp_path):
    served.modes["/f.bin"] = "corrupt"
    actual = hashlib.sha256(bytes([DATA[0] ^ 0xFF]) + DATA[1:]).hexdigest()
    with pytest.raises(DataError) as err:
        download(served.url("/f.bin"), tmp_path / "f.bin", sha256=SHA)
    assert served.url("/f.bin") in str(err.value) and SHA in str(err.value) and actual in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_existing_part_is_resumed(served, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(DATA[:1000])
    assert download(served.url("/f.bin"), tmp_path / "f.bin", sha256=SHA).read_bytes() == DATA
    assert served.requests == [("/f.bin", "bytes=1000-")]


def test_complete_part_is_accepted_on_416(served, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(DATA)
    assert download(served.url("/f.bin"), tmp_path / "f.bin", sha256=SHA).read_bytes() == DATA
    assert served.requests == [("/f.bin", f"bytes={len(DATA)}-")]


def test_server_ignoring_range_restarts_from_scratch(served, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes from another file")
    served.modes["/f.bin"] = "ignore_range"
    assert download(served.url("/f.bin"), tmp_path / "f.bin", sha256=SHA).read_bytes() == DATA


def test_verify_callback_failure_deletes_part(served, tmp_path):
    def verify(path):
        assert path.name == "f.bin.part" and path.read_bytes() == DATA
        raise DataError("not what we wanted")

    with pytest.raises(DataError, match="not what we wanted"):
        download(served.url("/f.bin"), tmp_path / "f.bin", verify=verify)
    assert list(tmp_path.iterdir()) == []


def test_404_is_not_retried(served, tmp_path):
    with pytest.raises(DataError, match="404"):
        download(served.url("/missing"), tmp_path / "f.bin")
    assert len(served.requests) == 1


def test_mirror_fallback(served, tmp_path):
    urls = [served.url("/missing"), served.url("/f.bin")]
    assert download_first(urls, tmp_path / "f.bin", sha256=SHA).read_bytes() == DATA
    assert [path for path, _ in served.requests] == ["/missing", "/f.bin"]


def test_all_mirrors_failing_lists_each(served, tmp_path):
    served.modes["/f.bin"] = "corrupt"
    urls = [served.url("/missing"), served.url("/f.bin")]
    with pytest.raises(DataError) as err:
        download_first(urls, tmp_path / "f.bin", sha256=SHA)
    message = str(err.value)
    assert "f.bin from any mirror" in message and "/missing: HTTP 404" in message and "sha256 mismatch" in message
